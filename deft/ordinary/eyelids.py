"""Eyelid events: AU45 blink, AU46 wink, AU43 eyes closed, AU5 upper lid raiser (eyes widened)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deft.ordinary.result import OrdinaryEvent
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


def lid_events(closure: dict[str, np.ndarray], eye_open: dict[str, np.ndarray], fps: float,
               config: EyelidConfig = EyelidConfig()) -> list[OrdinaryEvent]:
    """Blinks, winks and held closures from the per-eye closure scores (subject's sides); an eye whose
    lid gap grew meanwhile did not close (a widening also changes the eye's look)."""
    right, left = closure["right"], closure["left"]
    both = np.maximum(right, left)
    gap = np.mean([eye_open["right"], eye_open["left"]], axis=0)
    base = float(np.median(gap))
    out = []
    for a, b in hysteresis(both, config.edge, config.closed):
        if (b - a + 1) < max(2, config.min_s * fps) or gap[a:b + 1].mean() - base >= config.widen_iod:
            continue
        pr, pl = float(right[a:b + 1].max()), float(left[a:b + 1].max())
        apex = a + int(np.argmax(both[a:b + 1]))
        if min(pr, pl) < config.wink_ratio * max(pr, pl):
            out.append(OrdinaryEvent("wink", a, apex, b, ("AU46",), "right" if pr > pl else "left", max(pr, pl)))
        elif (b - a + 1) / fps > config.held_s:
            out.append(OrdinaryEvent("closed", a, apex, b, ("AU43",), "both", max(pr, pl)))
        else:
            out.append(OrdinaryEvent("blink", a, apex, b, ("AU45",), "both", max(pr, pl)))
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
