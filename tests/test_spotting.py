"""Spotting on face series whose motion is known: hand-made events and world schedules' truth."""

import numpy as np
import pytest

from deft.data.synthetic import profile
from deft.data.world.events import schedule
from deft.eval.spotting_eval import iou, spotting_counts
from deft.long.series import FaceSeries
from deft.long.spotting import SpotConfig, spot, spot_all
from deft.motion.regions import REGION_NAMES
from tests.long_series import mean_face, series_from_track

FPS = 30.0


def _series(n: int, events: list[tuple[tuple[str, ...], int, int, int, tuple[float, float]]], lag: int = 2,
            noise: float = 0.002, step: int = 1) -> FaceSeries:
    """Regions named in each event move by (dx, dy) IOD over a raised-cosine onset-apex-offset profile."""
    rng = np.random.default_rng(0)
    pos = np.zeros((n, len(REGION_NAMES), 2))
    for names, on, apex, off, vec in events:
        for name in names:
            pos[:, REGION_NAMES.index(name)] += profile(n, on, apex, off)[:, None] * np.asarray(vec)
    rows = np.arange(0, n, step)
    pos, lag_rows = pos[rows], lag // step
    motion = np.full_like(pos, np.nan)
    motion[lag_rows:] = pos[lag_rows:] - pos[:-lag_rows] + rng.normal(0, noise, pos[lag_rows:].shape)
    m = len(rows)
    lm = np.broadcast_to(mean_face() * 60 + 200, (m, 68, 2)).copy()  # a still face, eyes 60 px apart
    return FaceSeries(0, rows, lm, np.zeros((m, 3)), np.full(m, 60.0), np.ones(m), motion, lag)


MICRO = (("mouth_corner_right", "mouth_corner_left", "cheek_right"), 300, 305, 311, (0.0, -0.035))
MACRO = (("inner_brow_right", "inner_brow_left", "outer_brow_right"), 600, 640, 690, (0.0, -0.1))
BLINK = (("upper_eyelid_right", "upper_eyelid_left"), 450, 453, 458, (0.0, 0.08))


def _matches(spotted, truth) -> bool:
    return iou((spotted.onset, spotted.offset), (truth[1], truth[3])) >= 0.5


def test_micro_and_macro_spotted_blink_left_out():
    found = spot(_series(900, [MICRO, MACRO, BLINK]), FPS)
    assert [iv.kind for iv in found] == ["micro", "macro"]
    assert _matches(found[0], MICRO) and _matches(found[1], MACRO)
    assert abs(found[0].apex - MICRO[2]) <= 1 and abs(found[1].apex - MACRO[2]) <= 2


def test_blink_reported_when_asked():
    found = spot(_series(900, [MICRO, MACRO, BLINK]), FPS, SpotConfig(report=("micro", "macro", "blink")))
    assert [iv.kind for iv in found] == ["micro", "blink", "macro"]


def test_still_face_has_no_intervals():
    assert spot_all(_series(900, []), FPS) == []


def test_frames_are_source_frames_whatever_the_step():
    found = spot(_series(900, [MACRO], lag=6, step=2), FPS)
    assert len(found) == 1 and found[0].kind == "macro" and _matches(found[0], MACRO)
    assert found[0].onset % 2 == 0 and found[0].offset % 2 == 0


def test_lost_frames_are_never_inside_an_interval():
    series = _series(900, [MICRO, MACRO])
    series.motion[620:660] = np.nan  # the face is lost during the macro's apex
    found = spot_all(series, FPS)
    assert all(not (iv.onset <= 630 <= iv.offset) for iv in found)
    assert any(_matches(iv, MICRO) for iv in found)


@pytest.mark.parametrize("seed", [0, 1])
def test_world_schedules_spotted_with_megc_f1(seed):
    """Every event kind of a long video's schedule (blinks, speech, head moves among the expressions);
    motion from the truth through the renderer's AU fields, plus flow noise."""
    track = schedule(int(120 * FPS), FPS, np.random.default_rng(seed))
    found = spot(series_from_track(track, seed=seed), FPS)
    counts = spotting_counts([e.to_dict() for e in track.events], [iv.to_dict() for iv in found])
    assert counts["overall"].to_dict()["f1"] >= 0.7
