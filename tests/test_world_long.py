"""Long videos, clip sets and `deft synth` of the realistic world: truth intervals never overlap within one
face, two people have their own faces and events, the named sets are big and varied enough, the CLI
refuses a photo without a face."""

import json
import subprocess
import sys
from dataclasses import replace

import av
import numpy as np
import pytest

from deft.data.world.clips import EYE_KINDS, SET_NAMES, WorldClipSpec, clip_track, world_set
from deft.data.world.long import LongVideoSpec, plan, write_long_video
from deft.data.world.track import Camera

DEFT = [sys.executable, "-m", "deft.cli"]
SMALL = Camera(width=192, height=128, fps=10.0, iod_px=28.0)  # a tiny, slow camera keeps rendering fast


@pytest.mark.parametrize("people", [1, 2])
def test_long_truth_intervals_never_overlap_within_a_face(people):
    spec = LongVideoSpec(duration_s=600.0, people=people, identities=("astronaut", "hopper")[:people], seed=3)
    for person in plan(spec):
        events = sorted(person.track.events, key=lambda e: e.onset)
        assert len(events) > 100
        assert all(a.offset < b.onset for a, b in zip(events, events[1:]))
        assert all(0 <= e.onset < e.apex < e.offset < person.track.n_frames for e in events)


def read_mp4(path):
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_a_two_person_long_video_has_two_faces_with_their_own_events(tmp_path):
    spec = LongVideoSpec(duration_s=30.0, people=2, camera=SMALL, seed=1)
    truth = write_long_video(tmp_path / "two.mp4", spec, chunk=64)
    assert json.loads((tmp_path / "two.json").read_text()) == json.loads(json.dumps(truth))
    frames = read_mp4(tmp_path / "two.mp4")
    assert frames.shape == (300, 128, 192, 3) and truth["n_frames"] == 300 and truth["fps"] == 10.0
    left, right = truth["faces"]
    assert left["identity"].split("-")[0] != right["identity"].split("-")[0]  # two different photos
    assert left["region"] == [0, 0, 96, 128] and right["region"] == [96, 0, 192, 128]
    assert [e["onset"] for e in left["events"]] != [e["onset"] for e in right["events"]]
    for face in truth["faces"]:
        x0, _, x1, _ = face["region"]
        boxes = np.array(face["frames"]["box"])
        assert boxes.shape == (300, 4)
        centre_x = (boxes[:, 0] + boxes[:, 2]) / 2
        assert ((centre_x > x0) & (centre_x < x1)).all()  # each face stays in its own half
        assert {"yaw", "pitch", "roll", "scale", "centre_x", "centre_y", "aus"} <= set(face["frames"])
        for key, values in face["frames"]["aus"].items():
            assert len(values) == 300, key
        assert {e["kind"] for e in face["events"]} >= {"blink", "speech"}
        spans = sorted((e["onset"], e["offset"]) for e in face["events"])
        assert all(a[1] < b[0] for a, b in zip(spans, spans[1:]))  # the written truth never overlaps either
    # two people who do different things make different halves
    assert not np.array_equal(frames[:, :, :96], frames[:, :, 96:])


def test_long_video_chunks_do_not_change_the_video(tmp_path):
    spec = LongVideoSpec(duration_s=30.0, people=1, identities=("hopper",), camera=replace(SMALL, fps=5.0), seed=2)
    a = write_long_video(tmp_path / "a.mp4", spec, chunk=150)
    b = write_long_video(tmp_path / "b.mp4", spec, chunk=37)
    assert a["faces"][0]["frames"]["box"] == b["faces"][0]["frames"]["box"]
    assert np.abs(read_mp4(tmp_path / "a.mp4").astype(int) - read_mp4(tmp_path / "b.mp4")).max() <= 2


@pytest.mark.parametrize("name", SET_NAMES)
def test_each_named_set_has_40_clips_8_identities_and_distractor_only_clips(name):
    specs = world_set(name)
    assert len(specs) >= 40 and len({s.identity for s in specs}) >= 8
    only = [s for s in specs if s.emotion is None]
    assert 0.15 <= len(only) / len(specs) <= 0.4
    assert len({s.emotion for s in specs if s.emotion}) == 8  # every emotion shown
    assert len({s.seed for s in specs}) == len(specs)
    tracks = [clip_track(s) for s in specs]
    for spec, track in zip(specs, tracks):
        kinds = {e.kind for e in track.events}
        assert ("micro" in kinds) == (spec.emotion is not None)
        assert set(spec.distractors) - set(EYE_KINDS) <= kinds  # winks and widenings only where they fit
        assert ("blink" in spec.distractors) == ("blink" in kinds)
        eyes = sorted((e.onset, e.offset) for e in track.events if e.kind in EYE_KINDS)
        assert all(a[1] < b[0] for a, b in zip(eyes, eyes[1:]))  # one eyelid motion at a time
    if name in ("lowres",):
        assert all(20 <= s.camera.iod_px <= 30 for s in specs)
    if name == "compression":
        assert all(28 <= s.camera.crf <= 35 for s in specs)


def test_synth_refuses_a_photo_without_a_face(tmp_path):
    import cv2

    photo = tmp_path / "wall.png"
    yy, xx = np.mgrid[0:240, 0:320]
    cv2.imwrite(str(photo), np.dstack([(xx * 0.7) % 255, (yy * 0.5) % 255, np.full_like(xx, 90)]).astype(np.uint8))
    proc = subprocess.run([*DEFT, "synth", str(tmp_path / "out.mp4"), "--face", str(photo)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.startswith("deft: error:") and "wall.png" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out.mp4").exists()


def test_synth_writes_a_clip_with_distractors_and_its_truth(tmp_path):
    out = tmp_path / "talk.mp4"
    proc = subprocess.run([*DEFT, "synth", str(out), "--face", "hopper", "--emotion", "none", "--speech", "--pose",
                           "--blinks", "--size", "160x128", "--seed", "2"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    truth = json.loads(proc.stdout)
    assert truth["distractor_only"] and truth["composite"] == "none" and truth["aus"] == {}
    assert {e["kind"] for e in truth["events"]} >= {"speech", "head", "blink"}
    assert len(truth["pose"]["roll"]) == truth["n_frames"] == len(read_mp4(out))
    assert read_mp4(out).shape[1:] == (128, 160, 3)


def test_clip_truth_is_where_the_rendered_face_moves():
    """The events a clip's truth names happen in the rendered landmarks at the frames it names."""
    from deft.data.world.clips import render_clip

    spec = WorldClipSpec(identity="hopper", n_frames=60, camera=Camera(width=160, height=160, iod_px=50.0),
                         distractors=("blink", "speech"), emotion=None, seed=4)
    clip = render_clip(spec)
    lm = clip.landmarks.astype(np.float64)
    iod = np.linalg.norm(lm[:, 36:42].mean(1) - lm[:, 42:48].mean(1), axis=1)
    aperture = (np.linalg.norm(lm[:, [37, 38]] - lm[:, [41, 40]], axis=2).mean(1)
                + np.linalg.norm(lm[:, [43, 44]] - lm[:, [47, 46]], axis=2).mean(1)) / 2 / iod
    open_frames = clip.track.au_intensity("AU45") == 0
    blinks = [e for e in clip.truth.events if e.kind == "blink"]
    assert blinks and {e.kind for e in clip.truth.events} == {"blink", "speech"}
    for event in blinks:
        assert aperture[event.apex] < 0.3 * np.median(aperture[open_frames])
    mouth = np.linalg.norm(lm[:, 66] - lm[:, 62], axis=1) / iod  # inner lips apart
    jaw = clip.track.au_intensity("AU26")
    assert np.corrcoef(mouth[open_frames], jaw[open_frames])[0, 1] > 0.9
