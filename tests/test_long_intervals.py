"""Spotted intervals analysed like clips: the right face's crop, phases given, AUs and emotion."""

import numpy as np
import pytest

from deft.data.world.events import add_event, still_track
from deft.data.world.identity import load_identity
from deft.data.world.render import render_face
from deft.data.world.track import Camera
from deft.long.intervals import analyse_intervals, iter_intervals
from deft.long.series import FaceSeries
from deft.long.spotting import Interval

FPS = 30.0


@pytest.fixture(scope="module")
def scene():
    """Two faces side by side, 60 frames: the left one smiles (AU6+AU12) over frames 15-45, the right one
    stays still."""
    camera = Camera(width=320, height=320, iod_px=60.0)
    halves, series = [], []
    for face_id, smiles in ((0, True), (1, False)):
        track = still_track(60)
        if smiles:
            add_event(track, "macro", 15, 30, np.random.default_rng(0), FPS, emotion="happiness")
        rendered = render_face(load_identity("astronaut" if smiles else "hopper"), track, camera)
        halves.append(rendered.frames)
        lm = rendered.landmarks + np.array([320.0 * face_id, 0.0], np.float32)
        series.append(FaceSeries(face_id, np.arange(60), lm, np.zeros((60, 3)), np.full(60, 60.0), np.ones(60),
                                 np.zeros((60, 18, 2)), 6))
    return np.concatenate(halves, axis=2), series


@pytest.mark.slow
def test_each_interval_analysed_on_its_own_face(scene):
    frames, series = scene
    ivs = {0: [Interval(15, 28, 45, "macro", 2.0)], 1: [Interval(15, 28, 45, "macro", 2.0)]}
    seen = []
    out = analyse_intervals(enumerate(frames), series, ivs, FPS, 60, (640, 320), "two.mp4",
                            extra=lambda a: seen.append(a.source) or {"n_frames": a.n_frames})
    smile, still = out[0][0], out[1][0]
    assert {"AU12"} <= {a["au"] for a in smile["aus"]} and smile["emotion"]["label"] == "positive"
    assert still["aus"] == [] and still["emotion"]["label"] == "none"
    assert (smile["onset"], smile["apex"], smile["offset"], smile["kind"]) == (15, 28, 45, "macro")
    assert smile["n_frames"] == 45 - 15 + 1 + 2 * 3  # PAD_FRAMES each side
    assert len(seen) == 2


@pytest.mark.slow
def test_an_interval_where_the_face_was_lost_is_an_error_line(scene):
    frames, series = scene
    lost = FaceSeries(0, series[0].frames, np.full_like(series[0].landmarks, np.nan), *[
        getattr(series[0], k) for k in ("pose", "iod", "quality", "motion", "lag")])
    got = list(iter_intervals(enumerate(frames), [lost], {0: [Interval(15, 28, 45, "macro", 2.0)]}, FPS, 60,
                              (640, 320)))
    assert len(got) == 1 and "not tracked" in got[0][2]["error"]
