"""Per-frame face tracking and head pose, measured on frames of known pose from the realistic world."""

import json

import numpy as np
import pytest

from deft.analyze import analyze_frames
from deft.data.world.camera import film
from deft.data.world.identity import load_identity
from deft.data.world.mesh import Pose
from deft.data.world.render import render_face
from deft.data.world.track import Camera, FaceTrack
from deft.face import eye_centres
from deft.tracking import TrackQuality, head_pose, track_face, track_warnings
from deft.tracking.pose import euler_from_rotation
from deft.tracking.quality import MAX_OUT_OF_PLANE_DEG, POSE_NOISE_DEG
from deft.tracking.smooth import one_euro, smooth_track
from deft.video import Video

CAMERA = Camera(width=256, height=256, iod_px=61)


def posed(n: int, yaw=0.0, pitch=0.0, roll=0.0, centre=(0.5, 0.42), camera: Camera = CAMERA) -> tuple:
    """Filmed frames of the astronaut with the given per-frame pose, and their true FaceTrack."""
    f = lambda v: np.broadcast_to(np.asarray(v, np.float64), (n,)).copy()
    track = FaceTrack(f(yaw), f(pitch), f(roll), f(1.0), np.broadcast_to(np.asarray(centre, np.float64), (n, 2)).copy())
    rendered = render_face(load_identity("astronaut"), track, camera)
    return film(rendered.frames, camera, 0, seed=3), rendered.landmarks, track


@pytest.mark.parametrize("yaw, pitch, roll", [(20, 0, 0), (-15, 10, -12), (5, -12, 18), (0, 0, 0)])
def test_euler_angles_follow_the_world_convention(yaw, pitch, roll):
    assert euler_from_rotation(Pose(yaw, pitch, roll, 1.0, (0, 0)).rotation()) == pytest.approx((yaw, pitch, roll))


# Tolerances: the pose is of the mean 3D face, not this identity's, so each angle has a constant offset per
# face (bench_pose: a few degrees in pitch); changes of pose are compared. Roll is in the image plane and
# needs no depth: 3° (the realistic world's own renderer check). Yaw and pitch hinge on the nose's depth,
# which differs between faces by ~10-20%: 15% of the swing plus 1.5° of landmark noise.
def _check_change(measured: np.ndarray, truth: np.ndarray, tol: float):
    dm, dt = measured - measured[0], truth - truth[0]
    assert np.all(np.abs(dm - dt) <= tol), f"measured change {np.round(dm, 1)} vs true {np.round(dt, 1)}"


@pytest.mark.slow
def test_measured_pose_follows_the_rendered_pose():
    n = 12
    ramp = np.linspace(0, 1, n)
    truth = {"yaw": 24 * ramp - 12, "pitch": 12 * np.sin(2 * np.pi * ramp), "roll": 18 * ramp}
    frames, _, _ = posed(n, **truth)
    tracked = track_face(frames, 30.0)
    assert not tracked.lost.any()
    pose = head_pose(tracked.landmarks, (CAMERA.width, CAMERA.height))
    _check_change(pose.roll, truth["roll"], 3.0)
    for angle in ("yaw", "pitch"):
        _check_change(getattr(pose, angle), truth[angle], 0.15 * np.ptp(truth[angle]) + 1.5)
    assert pose.range()["roll"] == pytest.approx(18, abs=3)


def test_pose_does_not_depend_on_where_the_face_is_in_the_frame():
    # two people side by side, each facing the camera: the same pose, not one turned ~18° each way (the pose
    # is against the line of sight, as the world renderer draws; its weak perspective leaves a few degrees)
    camera = Camera(width=512, height=256, iod_px=50)
    for yaw, pitch in ((0.0, 0.0), (15.0, -8.0)):
        poses = [head_pose(posed(1, yaw, pitch, centre=(x, y), camera=camera)[1], (512, 256))
                 for x, y in ((0.5, 0.5), (0.2, 0.45), (0.8, 0.55))]
        for angle in ("yaw", "pitch", "roll"):
            values = [float(getattr(p, angle)[0]) for p in poses]
            assert max(values) - min(values) < 4.0, f"{angle} at the centre, left and right: {np.round(values, 1)}"


def test_tracking_follows_a_face_moving_across_the_frame():
    n = 10
    camera = Camera(width=320, height=240, iod_px=50)
    centre = np.stack([np.linspace(0.3, 0.7, n), np.linspace(0.45, 0.4, n)], 1)  # 128 px across, ~14 px/frame
    frames, truth, _ = posed(n, centre=centre, camera=camera)
    tracked = track_face(frames, 30.0)
    assert not tracked.lost.any()
    got = np.mean(eye_centres(np.moveaxis(tracked.landmarks, 0, 1)), axis=0)
    want = np.mean(eye_centres(np.moveaxis(truth, 0, 1)), axis=0)
    assert np.all(np.linalg.norm(got - want, axis=-1) <= 0.1 * camera.iod_px)


def test_a_frame_without_the_face_is_lost_not_extrapolated():
    frames, _, _ = posed(8)
    frames = frames.copy()
    background = np.full_like(frames[3], 120)  # the face leaves: an empty, evenly lit wall
    frames[3] = background
    tracked = track_face(frames, 30.0)
    assert tracked.lost.tolist() == [False, False, False, True, False, False, False, False]
    assert np.isnan(tracked.landmarks[3]).all() and tracked.quality[3] == 0
    assert tracked.detected[4]  # found again by a full-frame search
    pose = head_pose(tracked.landmarks, (CAMERA.width, CAMERA.height))
    assert np.isnan(pose.yaw[3]) and np.isfinite(pose.yaw[[2, 4]]).all()


def test_smoothing_keeps_gaps_and_has_no_lag():
    t = np.arange(20, dtype=float)
    ramp = np.stack([np.stack([t, 2 * t], 1)] * 3, 1)  # (20, 3, 2): points moving at constant speed
    ramp[7] = np.nan
    out = smooth_track(ramp, fps=30.0, iod=60.0)
    assert np.isnan(out[7]).all() and np.isfinite(out[np.arange(20) != 7]).all()
    # forward and backward passes cancel the causal one-euro's lag in the middle of a run (the ends keep half)
    lag = np.abs(one_euro(ramp[8:], 30.0, 60.0) - ramp[8:])[4:8].max()
    assert np.abs(out[12:16] - ramp[12:16]).max() < 0.2 * lag


def test_warnings_name_a_head_turn_and_lost_frames():
    tracked = track_face(posed(4)[0], 30.0)
    base = dict(iod_px=60.0, jitter_iod=0.01, tracked_frames=4, lost_frames=0, detections=1, frame_quality=[1.0] * 4)
    still = TrackQuality(pose_range={"yaw": 1.0, "pitch": 1.0, "roll": 15.0}, **base)
    assert track_warnings(still, tracked) == []  # roll is in the image plane: a 2D alignment undoes it
    over = MAX_OUT_OF_PLANE_DEG + POSE_NOISE_DEG + 1
    turned = TrackQuality(pose_range={"yaw": over, "pitch": 1.0, "roll": 0.0}, **base)
    assert ["yaw" in w and "out of the image plane" in w for w in track_warnings(turned, tracked)] == [True]


def test_analysis_json_has_pose_and_quality_and_keeps_every_old_key():
    n = 10
    frames, _, _ = posed(n, yaw=np.linspace(0, 20, n))
    result = analyze_frames(Video(frames, 30.0, "posed", "memory", (CAMERA.width, CAMERA.height)))
    out = json.loads(json.dumps(result.to_dict()))
    old = {"source", "n_frames", "fps", "phases", "aus", "emotion", "regions", "motion_curve", "iod_px", "flow",
           "reader", "warnings", "timings_s"}
    assert old <= set(out) and {"pose", "pose_range", "quality"} <= set(out)
    assert all(len(out["pose"][k]) == n for k in ("yaw", "pitch", "roll"))
    assert out["pose_range"]["yaw"] > MAX_OUT_OF_PLANE_DEG + POSE_NOISE_DEG
    assert {"iod_px", "pose_range", "landmark_jitter_iod", "tracked_frames", "lost_frames"} <= set(out["quality"])
    assert out["quality"]["tracked_frames"] == n and out["quality"]["lost_frames"] == 0
    assert any("out of the image plane" in w for w in out["warnings"])
    assert "track" in out["timings_s"]
