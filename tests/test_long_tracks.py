"""Long videos, tracks side (issue 12): faces followed through a streamed video keep their ids, per-region
lagged motion reads a real AU's direction, identities survive an occlusion and a cut."""

from __future__ import annotations

import numpy as np
import pytest

from deft.data.world.long import LongVideoSpec, write_long_video
from deft.data.world.track import Camera
from deft.face import detect_faces, landmarks68
from deft.long.identity import FaceGallery
from deft.long.motion import MotionConfig, lag_motion, region_vectors
from deft.long.stream import stream_frames
from deft.long.tracks import track_video
from deft.motion.flow import optical_strain
from deft.motion.regions import REGION_NAMES, describe_regions
from deft.video import read_video, write_video

# 30 s at 10 fps, two people side by side, eyes ~44 px apart: small and slow enough to render in a test
TWO = LongVideoSpec(duration_s=30.0, people=2, identities=("astronaut", "hopper"),
                    camera=Camera(width=384, height=240, fps=10.0, iod_px=44.0, crf=18), seed=4)


@pytest.fixture(scope="module")
def two_people(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "two.mp4"
    truth = write_long_video(path, TWO, chunk=64)
    return str(path), truth


@pytest.fixture(scope="module")
def two_tracked(two_people):
    return track_video(two_people[0])


def _nose_x(face, frame: int) -> float:
    return float(face.landmarks[list(face.frames).index(frame), 30, 0])


def test_region_vectors_match_describe_regions(happy_clip):
    rng = np.random.default_rng(0)
    flow = rng.normal(size=(112, 112, 2)).astype(np.float32).cumsum(axis=0).cumsum(axis=1) / 50
    lm = landmarks68(happy_clip.frames[0], detect_faces(happy_clip.frames[0])[0]) * (112 / 256)
    iod = 0.3 * 112
    fast = region_vectors(flow, lm, iod)
    slow = np.array([[r.dx, r.dy] for r in describe_regions(flow, optical_strain(flow), lm, iod)]) / iod
    assert fast.shape == (len(REGION_NAMES), 2)
    assert np.abs(fast - slow).max() < 0.05 * np.abs(slow).max()  # same discs (centres rounded to a pixel)


def test_lag_motion_reads_a_smile_as_mouth_corners_up(happy_clip):
    frames, apex = happy_clip.frames, happy_clip.spec.apex
    gray = [f.mean(axis=2).astype(np.uint8) for f in frames]
    box = detect_faces(frames[0])[0]
    lm0, lm1 = landmarks68(frames[0], box), landmarks68(frames[apex], box)
    motion = dict(zip(REGION_NAMES, lag_motion(gray[0], gray[apex], lm0, lm1, MotionConfig())))
    for side in ("left", "right"):
        assert motion[f"mouth_corner_{side}"][1] < -0.008  # up (image y down), > 0.008 IOD
    brows = max(np.hypot(*motion[n]) for n in REGION_NAMES if "brow" in n)
    assert brows < 0.5 * np.hypot(*motion["mouth_corner_left"])
    still = lag_motion(gray[0], gray[1], lm0, landmarks68(frames[1], box), MotionConfig())
    assert np.abs(still).max() < 0.01
    assert np.isnan(lag_motion(gray[0], gray[1], np.full((68, 2), np.nan), lm0)).all()


def test_gallery_gives_a_returning_face_its_old_id_and_a_new_face_a_new_one():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=128) * 0.1, rng.normal(size=128) * 0.1  # ~1.4 apart, like two people
    gallery = FaceGallery(threshold=0.6)
    assert gallery.identify(a, set()) == 0
    assert gallery.identify(b, {0}) == 1
    assert gallery.identify(a + 0.01, set()) == 0  # back after a cut
    assert gallery.identify(a + 0.01, {0}) == 2  # id 0 is on screen: a look-alike gets its own
    assert gallery.nearest(b)[1] == 1 and gallery.nearest(b, {1})[1] in (0, 2)
    assert FaceGallery().nearest(a) == (np.inf, -1)


def test_stream_frames_chunks_hold_every_step_th_frame(happy_mp4):
    chunks = list(stream_frames(happy_mp4, chunk=7, step=2))
    indices = np.concatenate([c.indices for c in chunks])
    whole = read_video(happy_mp4, step=2)
    assert list(indices) == whole.frame_indices and {len(c.indices) for c in chunks[:-1]} == {7}
    assert np.array_equal(chunks[-1].frames[-1], whole.frames[-1])


@pytest.mark.slow
def test_two_people_give_two_stable_tracks(two_people, two_tracked):
    _, truth = two_people
    result = two_tracked
    assert [f.face_id for f in result.faces] == [0, 1] and result.n_frames == truth["n_frames"] == 300
    for face, person in zip(sorted(result.faces, key=lambda f: _nose_x(f, 0)), truth["faces"]):
        x0, _, x1, _ = person["region"]
        tracked = ~np.isnan(face.landmarks[:, 0, 0])
        assert tracked.mean() > 0.95 and len(face.frames) >= 290
        assert ((face.landmarks[tracked, 30, 0] > x0) & (face.landmarks[tracked, 30, 0] < x1)).all()
        assert face.motion.shape == (len(face.frames), len(REGION_NAMES), 2) and face.lag == 2
        assert np.isfinite(face.motion[:, 0, 0]).mean() > 0.9 and np.isfinite(face.pose[tracked]).all()
        yaw = np.array(person["frames"]["yaw"])[face.frames][tracked]
        err = face.pose[tracked, 0] - yaw
        # each half is its own camera in the world, one camera here: the median offset is the viewing angle
        assert np.percentile(np.abs(err - np.median(err)), 90) < 8.0  # the pose follows the head (degrees)
    assert result.to_dict()["faces"] == [{"face_id": 0, "frames": [0, 299], "intervals": []},
                                         {"face_id": 1, "frames": [0, 299], "intervals": []}]


@pytest.mark.slow
def test_identity_survives_an_occlusion_and_a_cut_that_swaps_the_people(two_people, tmp_path):
    frames = read_video(two_people[0]).frames.copy()  # 300 x 240 x 384: small enough to edit whole
    half = frames.shape[2] // 2
    frames[100:150, :, :half] = 0  # the left person leaves for 5 s
    frames[200:] = np.concatenate([frames[200:, :, half:], frames[200:, :, :half]], axis=2)  # a cut: sides swap
    path = tmp_path / "cut.mp4"
    write_video(frames, path, fps=10.0)
    result = track_video(path)
    assert len(result.faces) == 2
    by_id = {f.face_id: f for f in result.faces}
    left_id = min(by_id, key=lambda i: _nose_x(by_id[i], 50))
    right_id = 1 - left_id
    assert np.isnan(by_id[left_id].landmarks[list(by_id[left_id].frames).index(120)]).all()
    assert _nose_x(by_id[left_id], 170) < half and _nose_x(by_id[left_id], 250) > half  # same person, other side
    assert _nose_x(by_id[right_id], 250) < half


@pytest.mark.slow
def test_cli_long_path_writes_json_a_table_pandas_reads_and_an_overlay(two_people, tmp_path, capsys):
    import json

    import pandas as pd

    from deft.cli import main
    from deft.long.table import COLUMNS
    from deft.video import VideoLimits

    path, truth = two_people
    table, overlay = tmp_path / "series.csv", tmp_path / "overlay.mp4"
    assert main(["analyze", path, "--json", "--csv", str(table), "--overlay", str(overlay)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"source", "fps", "n_frames", "faces"} and out["n_frames"] == 300 and out["fps"] == 10.0
    assert [f["face_id"] for f in out["faces"]] == [0, 1] and all(f["frames"] == [0, 299] for f in out["faces"])
    for face in out["faces"]:
        for iv in face["intervals"]:
            assert {"onset", "apex", "offset", "kind"} <= set(iv) and 0 <= iv["onset"] <= iv["offset"] < 300
    rows = pd.read_csv(table)
    assert tuple(rows.columns) == COLUMNS and len(rows) == 600  # one row per frame per face
    assert sorted(rows.groupby("face_id")["frame"].apply(lambda f: f.tolist() == list(range(300)))) == [True, True]
    assert rows["time_s"].max() == pytest.approx(29.9) and rows["tracked"].mean() > 0.95
    iod = rows.groupby("face_id")["iod_px"].median()  # both rendered with eyes 44 px apart; a landmark fit that
    assert np.all(np.abs(iod / truth["faces"][0]["iod_px"] - 1) < 0.1)  # ran away read one face at 55 px
    decoded = read_video(overlay, VideoLimits(max_frames=10_000))
    assert decoded.n_frames == truth["n_frames"] and decoded.frames.shape[1:3] == (240, 384)
    parquet = tmp_path / "series.parquet"
    assert main(["analyze", path, "--face", "largest", "--csv", str(parquet)]) == 0
    assert len(pd.read_parquet(parquet)) == 300 and f"face {iod.idxmax()}" in capsys.readouterr().out


def test_cli_refuses_a_table_of_an_unknown_kind(happy_mp4, tmp_path, capsys):
    from deft.cli import main

    assert main(["analyze", happy_mp4, "--csv", str(tmp_path / "t.xlsx")]) == 1
    assert ".csv or .parquet" in capsys.readouterr().err


def test_a_long_video_without_a_face_is_an_error(tmp_path, capsys):
    from deft.cli import main

    ramp = np.linspace(0, 255, 160 * 120, dtype=np.uint8).reshape(120, 160)
    frames = np.stack([np.dstack([np.roll(ramp, 3 * t, axis=1)] * 3) for t in range(40)])
    write_video(frames, tmp_path / "empty.mp4", fps=10.0)
    assert main(["analyze", str(tmp_path / "empty.mp4"), "--face", "all"]) == 1
    assert "no face found in 40 frames" in capsys.readouterr().err
