"""The realistic synthetic world's renderer: the truth it claims is what dlib measures on its frames."""

import av
import cv2
import numpy as np
import pytest

from deft.data.world.camera import film, write_mp4
from deft.data.world.dataset import HELD_IDENTITIES
from deft.data.world.identity import IDENTITIES, load_identity
from deft.data.world.render import render_face
from deft.data.world.track import Camera, FaceTrack
from deft.errors import ConfigError, DeftError, FaceError
from deft.face import detect_faces, landmarks68

CAMERA = Camera(width=256, height=256, iod_px=61)


def still(n: int = 1, yaw=0.0, pitch=0.0, roll=0.0, scale=1.0, aus=None) -> FaceTrack:
    """A track of n frames; each pose argument a number or a per-frame sequence."""
    f = lambda v: np.broadcast_to(np.asarray(v, np.float64), (n,)).copy()
    return FaceTrack(f(yaw), f(pitch), f(roll), f(scale), np.tile([0.5, 0.45], (n, 1)), aus or {})


def measured(frame: np.ndarray) -> np.ndarray:
    boxes = detect_faces(frame)
    assert len(boxes) == 1, f"{len(boxes)} faces found in a rendered frame"
    return landmarks68(frame, boxes[0])


def eye_aspect(lm: np.ndarray) -> float:
    """Mean eye aspect ratio of both eyes (Soukupova & Cech 2016): lid gaps over eye width."""
    ratios = []
    for e in (36, 42):
        p = lm[e:e + 6]
        ratios.append((np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2 * np.linalg.norm(p[0] - p[3])))
    return float(np.mean(ratios))


# dlib's eye aspect ratio at full closure vs open: astronaut closes to about half; hopper (glasses, hooded
# lids) less, dlib keeps part of an open eye on the rim and crease above the closed lid.
@pytest.mark.parametrize("face, drop", [("astronaut", 0.6), ("hopper", 0.9)])
def test_blink_closes_the_eyelids_that_dlib_sees(face, drop):
    track = still(2, aus={("AU45", "both"): np.array([0.0, 1.0])})
    out = render_face(load_identity(face), track, CAMERA)
    open_, closed = (eye_aspect(measured(f)) for f in out.frames)
    assert closed < drop * open_, (open_, closed)
    assert eye_aspect(out.landmarks[1]) < 0.05 < eye_aspect(out.landmarks[0])  # the truth: lids meet


def test_wink_closes_one_eye_only():
    out = render_face(load_identity("hopper"), still(1, aus={("AU46", "left"): np.ones(1)}), CAMERA)
    lm = out.landmarks[0]
    gap = lambda e: np.linalg.norm(lm[e + 1] - lm[e + 5])
    assert gap(42) < 0.02 * 61 < gap(36)  # the subject's left eye (image right, 42-47) is shut


def test_widening_lifts_the_upper_lids():
    out = render_face(load_identity("astronaut"), still(2, aus={("AU5", "both"): np.array([0.0, 0.05])}), CAMERA)
    lift = out.landmarks[0, [37, 38, 43, 44], 1] - out.landmarks[1, [37, 38, 43, 44], 1]
    assert np.all(lift > 0.03 * 61) and np.all(lift < 0.06 * 61)
    assert np.allclose(out.landmarks[0, [40, 41, 46, 47]], out.landmarks[1, [40, 41, 46, 47]], atol=0.05)
    open_, wide = (eye_aspect(measured(f)) for f in out.frames)
    assert wide > 1.1 * open_, (open_, wide)


def test_walking_closer_scales_the_measured_face():
    out = render_face(load_identity("hopper"), still(2, scale=np.array([0.7, 1.3])), Camera(width=320, height=320))
    iod = [np.linalg.norm(np.subtract(*(lm[42:48].mean(0), lm[36:42].mean(0)))) for lm in map(measured, out.frames)]
    assert abs(iod[1] / iod[0] - 1.3 / 0.7) < 0.1 * 1.3 / 0.7, iod


@pytest.mark.parametrize("roll", [-20.0, -8.0, 12.0, 20.0])
def test_measured_roll_follows_the_requested_roll(roll):
    lm = measured(render_face(load_identity("hopper"), still(roll=roll), CAMERA).frames[0])
    v = lm[42:48].mean(axis=0) - lm[36:42].mean(axis=0)
    assert abs(np.degrees(np.arctan2(v[1], v[0])) - roll) < 3.0


def test_yaw_moves_the_nose_tip_towards_the_turn():
    ident = load_identity("astronaut")
    offsets = {}
    for yaw in (-20.0, 0.0, 20.0):
        lm = measured(render_face(ident, still(yaw=yaw), CAMERA).frames[0])
        offsets[yaw] = (lm[30, 0] - lm[36:48, 0].mean()) / np.linalg.norm(lm[45] - lm[36])
    assert offsets[-20.0] < offsets[0.0] - 0.08 and offsets[20.0] > offsets[0.0] + 0.08, offsets


def test_pitch_moves_the_nose_tip_down_for_a_lowered_chin():
    ident = load_identity("hopper")
    drop = {}
    for pitch in (-15.0, 15.0):
        lm = measured(render_face(ident, still(pitch=pitch), CAMERA).frames[0])
        drop[pitch] = (lm[30, 1] - lm[36:48, 1].mean()) / np.linalg.norm(lm[45] - lm[36])
    assert drop[15.0] > drop[-15.0] + 0.08, drop


def test_au_motion_follows_the_rolled_face():
    """A brow raise on a head rolled by 20° moves the brows along the rolled face's up, not the image's."""
    ident = load_identity("hopper")
    raise_ = {("AU1", "both"): np.array([0.0, 0.08]), ("AU2", "both"): np.array([0.0, 0.08])}
    lm = render_face(ident, still(2, roll=20.0, aus=raise_), CAMERA).landmarks
    move = (lm[1, 17:27] - lm[0, 17:27]).mean(axis=0)
    up = np.array([np.sin(np.radians(20)), -np.cos(np.radians(20))])
    assert np.linalg.norm(move) > 0.03 * 61 and move @ up / np.linalg.norm(move) > 0.97


def test_lips_part_with_a_dark_cavity():
    ident = load_identity("hopper")
    out = render_face(ident, still(2, aus={("AU26", "both"): np.array([0.0, 0.35])}), CAMERA)
    lm = out.landmarks
    assert lm[1, 8, 1] - lm[0, 8, 1] > 0.3 * 61  # the chin drops
    inner = np.round((lm[1, 62] + lm[1, 66]) / 2).astype(int)
    x, y = inner
    assert out.frames[1][y - 1:y + 2, x - 1:x + 2].mean() < 0.6 * out.frames[0][y - 1:y + 2, x - 1:x + 2].mean()


def test_motion_blur_follows_the_head_not_the_expression():
    ident, blurry = load_identity("hopper"), Camera(width=256, height=256, motion_blur=1.0)
    moving, resting = still(2), still(2)
    moving.centre[:, 0] = [0.50, 0.56]  # 15 px in one frame
    resting.centre[:, 0] = 0.56
    sharpness = lambda f: cv2.Laplacian(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), cv2.CV_32F).var()
    assert sharpness(render_face(ident, moving, blurry).frames[1]) < 0.5 * sharpness(
        render_face(ident, resting, blurry).frames[1])
    talking = still(2, aus={("AU26", "both"): np.array([0.0, 0.3])})
    assert np.array_equal(render_face(ident, talking, blurry).frames, render_face(ident, talking, CAMERA).frames)


def test_chunks_render_exactly_the_whole():
    n = 9
    track = still(n, yaw=np.linspace(-15, 15, n), pitch=np.linspace(5, -5, n), roll=np.linspace(0, 10, n),
                  scale=np.linspace(0.9, 1.2, n), aus={("AU12", "both"): np.linspace(0, 0.05, n),
                                                       ("AU45", "both"): np.linspace(0, 1, n)})
    track.centre[:, 0] = np.linspace(0.45, 0.55, n)
    camera = Camera(width=128, height=96, iod_px=30, motion_blur=1.0)
    ident = load_identity("hopper")
    whole = render_face(ident, track, camera)
    parts = [render_face(ident, track, camera, 0, 4), render_face(ident, track, camera, 4, n)]
    assert np.array_equal(whole.frames, np.concatenate([p.frames for p in parts]))
    assert np.array_equal(whole.landmarks, np.concatenate([p.landmarks for p in parts]))
    with pytest.raises(ConfigError):
        render_face(ident, track, camera, 5, n + 1)


def test_film_is_fixed_per_frame_index_and_seed():
    camera = Camera(width=64, height=48, noise=2.0, flicker=0.05, light_drift=0.2)
    frames = np.full((6, 48, 64, 3), 120, np.uint8)
    whole = film(frames, camera, 10, seed=3)
    assert np.array_equal(whole, np.concatenate([film(frames[:2], camera, 10, 3), film(frames[2:], camera, 12, 3)]))
    assert not np.array_equal(whole, film(frames, camera, 10, seed=4))
    assert not np.array_equal(whole[0], whole[1])  # fresh noise every frame
    residual = whole.astype(np.float32) - whole.astype(np.float32).mean(axis=(1, 2, 3), keepdims=True)
    assert 1.5 < residual.std() < 2.5


def test_write_mp4_encodes_h264_at_the_camera_rate(tmp_path):
    camera = Camera(width=64, height=48, fps=25.0, crf=None)
    frames = np.random.default_rng(0).integers(40, 200, (5, 48, 64, 3), dtype=np.uint8)
    frames = cv2.GaussianBlur(frames.reshape(-1, 64, 3), (0, 0), 2).reshape(frames.shape)
    path = str(tmp_path / "clip.mp4")
    write_mp4(path, [frames[:2], frames[2:]], camera)
    with av.open(path) as c:
        stream = c.streams.video[0]
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(stream)])
        assert stream.codec_context.name == "h264" and float(stream.average_rate) == 25.0
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames).mean() < 3.0  # near-lossless (yuv420p chroma only)


def test_identities_are_many_and_load():
    assert len(IDENTITIES) >= 8 and len(set(IDENTITIES)) == len(IDENTITIES)
    base, derived = load_identity("hopper"), load_identity("hopper-mirror-broad-dark")
    assert derived.photo.shape == base.photo.shape and derived.landmarks.shape == (68, 2)
    def face_mean(ident):  # the cheeks-to-chin box between the eyes' outer corners
        lm = ident.landmarks
        x0, x1 = sorted((int(lm[36, 0]), int(lm[45, 0])))
        return ident.photo[int(lm[29, 1]):int(lm[8, 1]), x0:x1].mean()

    assert face_mean(derived) < 0.7 * face_mean(base)  # a darker skin tone
    assert abs(float(derived.photo[:40, :40].mean()) - float(base.photo[:40, -40:].mean())) < 3  # same room
    with pytest.raises(ConfigError, match="unknown face"):
        load_identity("hopper-wobbly")


def test_a_photo_without_a_face_is_refused_by_name(tmp_path):
    path = tmp_path / "landscape.png"
    cv2.imwrite(str(path), np.tile(np.linspace(0, 255, 200, dtype=np.uint8), (150, 1)))
    with pytest.raises(FaceError, match="landscape.png"):
        load_identity(str(path))
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with pytest.raises(DeftError, match="notes.jpg"):
        load_identity(str(text))


def test_a_turned_face_is_refused(tmp_path):
    frame = render_face(load_identity("hopper"), still(yaw=40.0), Camera(width=300, height=300, iod_px=70)).frames[0]
    path = tmp_path / "profile.png"
    cv2.imwrite(str(path), frame[..., ::-1])
    with pytest.raises(FaceError, match="profile.png: the face is turned"):
        load_identity(str(path))


def test_any_photo_path_is_a_face(tmp_path):
    path = tmp_path / "someone.jpg"
    cv2.imwrite(str(path), load_identity("hopper").photo[..., ::-1])
    ident = load_identity(str(path))
    frame = render_face(ident, still(), Camera(width=96, height=96, iod_px=30)).frames[0]
    assert frame.shape == (96, 96, 3) and frame.std() > 10


@pytest.mark.slow
@pytest.mark.parametrize("name", dict.fromkeys(IDENTITIES + HELD_IDENTITIES))
def test_every_identity_renders_one_face_dlib_finds(name):
    track = still(1, yaw=15.0, roll=-10.0)
    frame = render_face(load_identity(name), track, Camera(width=320, height=240, iod_px=40)).frames[0]
    boxes = detect_faces(frame)
    assert len(boxes) == 1 and landmarks68(frame, boxes[0]).shape == (68, 2)
