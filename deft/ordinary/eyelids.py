"""Eyelid events: AU45 blink, AU46 wink, AU43 eyes closed, AU5 upper lid raiser (eyes widened).

Closures are found on the eye patch's closure score (eyes.py); where a small or compressed eye keeps that score
low, on dlib's lid gaps dipping together while the patch still departs from the open eye (dip_events). A closure
is a wink when the other eye's score peaked well under the closing eye's on both the plain and the
shift-tolerant score (eyes.py). Where only the plain one says so, the closing eye's extra change was the eye
shifting: a blink. Where only the shift-tolerant one says so, the other eye's change was a shift: an open eye
on a moving head, or on a small eye a lid that closed by a pixel or two; on the dev clips that was a wink about
half the time (benchmarks/README), so the event is kept but unsure, a blink or a wink (issue 18's hard clip
stated its wink as a blink).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from deft.ordinary.doubt import DoubtConfig
from deft.ordinary.result import KIND_UNSURE, OrdinaryEvent
from deft.ordinary.runs import hysteresis, runs


@dataclass(frozen=True)
class EyelidConfig:
    """Closure scores are 1 - NCC of the eye patch to the clip's open eye (eyes.py); lid gaps in IOD."""

    closed: float = 0.16  # closure score an eye must reach: a blink's lid covers the iris (0.2-0.4 seen)
    edge: float = 0.08  # an event runs while the closure score stays above this
    wink_ratio: float = 0.45  # the other eye's peak below this share of the closing eye's: a wink
    held_s: float = 0.6  # closed longer than this is AU43 (eyes closed), not a blink (100-400 ms)
    window_s: float = 1.0  # half the sliding window whose median patch is the open eye (eyes.py)
    min_s: float = 0.06  # shorter than this (2 frames at 30 fps) is noise: the fastest blinks take 100 ms
    widen_iod: float = 0.012  # mean lid gap this far above the clip's baseline: AU5
    widen_frames: int = 3
    # Lid-gap dips (dlib's lids, the nod taken out, against the open level around): a blink the patch misses
    # (small or compressed eyes) still brings both lids together.
    dip_iod: float = 0.025  # both eyes' lid gap this far under their open level at the dip's deepest: the lids met
    dip_edge: float = 0.012  # the dip runs while both stay this far under it
    dip_closure: float = 0.06  # closure score the eye patch must still reach during the dip (1 - NCC)
    open_s: float = 0.5  # the open level: the higher median of the lid gap this long before and after


def lid_events(closure: dict[str, np.ndarray], eye_open: dict[str, np.ndarray], fps: float,
               config: EyelidConfig = EyelidConfig(), shifted: dict[str, np.ndarray] | None = None) -> list[OrdinaryEvent]:
    """Blinks, winks and held closures from the per-eye closure scores (subject's sides; `shifted`: the
    shift-tolerant ones, eyes.py, for telling a wink); an eye whose lid gap grew meanwhile did not close (a
    widening also changes the eye's look)."""
    right, left = closure["right"], closure["left"]
    both = np.maximum(right, left)
    gap = np.mean([eye_open["right"], eye_open["left"]], axis=0)
    base = float(np.median(gap))
    out = []
    for a, b in hysteresis(both, config.edge, config.closed):
        if (b - a + 1) < max(2, config.min_s * fps) or gap[a:b + 1].mean() - base >= config.widen_iod:
            continue
        peaks = _peaks(closure, shifted, a, b + 1)
        out.append(_closing(a, a + int(np.argmax(both[a:b + 1])), b, peaks, fps, config))
    return out


def _peaks(closure: dict[str, np.ndarray], shifted: dict[str, np.ndarray] | None, lo: int, hi: int
           ) -> list[tuple[float, float]]:
    """(right, left) peaks of the closure scores over frames lo..hi-1: plain first, then shift-tolerant if given."""
    return [(float(s["right"][lo:hi].max()), float(s["left"][lo:hi].max())) for s in (closure, shifted) if s is not None]


def _closing(a: int, apex: int, b: int, peaks: list[tuple[float, float]], fps: float, config: EyelidConfig
             ) -> OrdinaryEvent:
    """A wink when one eye's closure peak is well below the other's on every score of `peaks` (_peaks: plain, then
    shift-tolerant), else a blink, or AU43 when held long; unsure (KIND_UNSURE) where only the shift-tolerant
    score says wink."""
    plain, tolerant = (min(pr, pl) < config.wink_ratio * max(pr, pl) for pr, pl in (peaks[0], peaks[-1]))
    pr, pl = peaks[0]
    if plain and tolerant:
        return OrdinaryEvent("wink", a, apex, b, ("AU46",), "right" if pr > pl else "left", max(pr, pl))
    unsure = KIND_UNSURE if tolerant else ""
    if (b - a + 1) / fps > config.held_s:
        return OrdinaryEvent("closed", a, apex, b, ("AU43",), "both", max(pr, pl), unsure)
    return OrdinaryEvent("blink", a, apex, b, ("AU45",), "both", max(pr, pl), unsure)


def open_level(gap: np.ndarray, reach: int) -> np.ndarray:
    """(T,) the lid gap's open level around each frame: the higher of its medians over the `reach` frames before
    and after (the frame and its neighbours left out), so a blink's own frames do not lower it."""
    n = len(gap)
    windows = sliding_window_view(np.r_[np.full(reach, np.nan), gap, np.full(reach, np.nan)], reach - 1)
    sides = []
    for side in (windows[:n], windows[reach + 2:reach + 2 + n]):  # frames t-reach..t-2 and t+2..t+reach
        enough = np.isfinite(side).sum(axis=1) >= 2
        level = np.full(n, np.nan)
        level[enough] = np.nanmedian(side[enough], axis=1)
        sides.append(level)
    level = np.fmax(*sides)
    return np.where(np.isfinite(level), level, gap)


def lid_dips(eye_open: dict[str, np.ndarray], pitch: np.ndarray, fps: float, config: EyelidConfig = EyelidConfig(),
             nod_iod_per_deg: float = DoubtConfig.nod_iod_per_deg) -> np.ndarray:
    """(T,) how far both eyes' lid gaps (IOD) lie under their open level, the smaller of the two; `pitch`
    (degrees from the clip's median, 0 where unmeasured) times `nod_iod_per_deg` takes the nod's own change of the
    gap out."""
    reach = max(3, round(config.open_s * fps))
    dips = []
    for gap in eye_open.values():
        level = gap - nod_iod_per_deg * pitch
        dips.append(open_level(level, reach) - level)
    return np.minimum(*dips)


def dip_events(closure: dict[str, np.ndarray], dip: np.ndarray, fps: float, found: list[OrdinaryEvent],
               config: EyelidConfig = EyelidConfig(), shifted: dict[str, np.ndarray] | None = None) -> list[OrdinaryEvent]:
    """Blinks and winks the closure score alone missed: both lid gaps dip (`dip`, lid_dips) while the eye patch
    still departs from the open eye; the patch says which eye closed (dlib moves both lids in a wink)."""
    out = []
    for a, b in hysteresis(dip, config.dip_edge, config.dip_iod):
        if not (max(2, config.min_s * fps) <= b - a + 1 <= config.held_s * fps) or any(e.overlaps(a, b) for e in found):
            continue
        lo, hi = max(0, a - 1), b + 2  # the patch's peak may lead or trail the landmarks' by a frame
        peaks = _peaks(closure, shifted, lo, hi)
        if max(peaks[0]) >= config.dip_closure:
            out.append(_closing(a, a + int(np.argmax(dip[a:b + 1])), b, peaks, fps, config))
    return out


def widen_events(eye_open: dict[str, np.ndarray], closing: list[OrdinaryEvent],
                 config: EyelidConfig = EyelidConfig()) -> list[OrdinaryEvent]:
    """AU5: both lids further apart than the clip's baseline (median outside closures) for a few frames."""
    gap = np.mean([eye_open["right"], eye_open["left"]], axis=0)
    still = np.ones(len(gap), bool)
    for e in closing:
        still[e.onset:e.offset + 1] = False
    if still.sum() < 3:
        return []
    rise = gap - float(np.median(gap[still]))
    rise[~still] = 0.0
    return [OrdinaryEvent("widen", a, a + int(np.argmax(rise[a:b + 1])), b, ("AU5",), "both", float(rise[a:b + 1].max()))
            for a, b in runs(rise >= config.widen_iod) if b - a + 1 >= config.widen_frames]
