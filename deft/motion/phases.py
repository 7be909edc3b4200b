"""Onset / apex / offset spotting from the clip's own motion over time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from deft.errors import ConfigError
from deft.motion.drift import Drift, fit_drift
from deft.motion.flow import compute_flow, remove_head_motion
from deft.motion.regions import region_windows

CURVE_SCALE = 0.5  # the motion curve is measured on half-size crops: 4x cheaper, same apex
CURVE_STRIDE = 2  # coarse pass: every 2nd frame (a micro-expression rises over >= 4 frames at 30 fps)
APEX_REFINE = 3  # fine pass: every frame within this many of the coarse peak ...
PEAK_TIE, MAX_PEAKS = 0.9, 4  # ... and of coarse points within 10 % of it (at most 4: weak, flat curves)
# (measured frames (n,), their per-region mean flows vs frame 0 (n, R, 2), IOD) -> the expression's part of them
Separate = Callable[[np.ndarray, np.ndarray], np.ndarray]
ONSET_SHARE = 0.15  # onset/offset: last/first frame whose motion is under this share of the apex's


@dataclass
class Phases:
    """Frame indices into the analysed clip, and how they were obtained."""

    onset: int
    apex: int
    offset: int
    source: str  # "spotted" | "given"
    curve: list[float]  # head-motion-free mean motion per frame vs frame 0, in IOD

    def to_dict(self) -> dict:
        return {"onset": self.onset, "apex": self.apex, "offset": self.offset, "source": self.source}


def motion_curve(gray: np.ndarray, landmarks: np.ndarray, iod: float, depth: np.ndarray | None = None,
                 separate: Separate | None = None, drift: bool = False) -> np.ndarray:
    """Mean stabilised flow magnitude (IOD) from frame 0 to every frame, on half-size crops.

    Coarse to fine in time: flows to every CURVE_STRIDE-th frame (and the last), linear in between,
    then measured exactly on every frame near the coarse peak (and near-ties of it), where the apex
    is picked: about half the flows of measuring every frame. `separate` (deft.ordinary.separate) turns
    the measured frames' per-region mean flows into the expression's motion, speech and blinks taken out;
    `drift` (the head turned far) takes the turn's slow drift out too (deft.motion.drift).
    """
    small = np.stack([cv2.resize(g, None, fx=CURVE_SCALE, fy=CURVE_SCALE, interpolation=cv2.INTER_AREA) for g in gray])
    lm, unit = landmarks * CURVE_SCALE, iod * CURVE_SCALE
    if depth is not None:
        depth = cv2.resize(depth, small.shape[1:][::-1], interpolation=cv2.INTER_AREA) * CURVE_SCALE
    discs = region_windows(small.shape[1:], lm, unit)
    mask = np.zeros(small.shape[1:], bool)
    for rows, cols, disc in discs:
        mask[rows, cols] |= disc
    by_region = separate is not None or drift
    raw: dict[int, float] = {0: 0.0}  # mean |flow| over the regions' union (IOD)
    vectors: dict[int, np.ndarray] = {0: np.zeros((len(discs), 2))}  # per-region mean flow (IOD)
    trend: list[Drift] = []  # fitted once, on the evenly spaced coarse pass

    def measure(frames) -> dict[int, float]:
        for t in frames:
            if t not in raw:
                flow = remove_head_motion(compute_flow(small[0], small[t], "dis"), lm, unit, depth)
                raw[t] = float(np.linalg.norm(flow[mask], axis=-1).mean() / unit)
                if by_region:
                    vectors[t] = np.array([flow[r, c][d].mean(axis=0) for r, c, d in discs]) / unit
        if not by_region:
            return raw
        ts = np.array(sorted(vectors))
        motion = np.stack([vectors[t] for t in ts])
        if separate is not None:
            motion = separate(ts, motion)
        if drift:
            if not trend:
                trend.append(fit_drift(ts, len(small), motion))
            motion = motion - trend[0](ts)
        return dict(zip(ts.tolist(), np.linalg.norm(motion, axis=-1).mean(axis=1).tolist()))

    last = len(small) - 1
    measured = measure([*range(CURVE_STRIDE, last, CURVE_STRIDE), last] if last > 0 else [])
    top = max(measured.values())
    peaks = sorted((t for t in measured if measured[t] >= PEAK_TIE * top), key=lambda t: -measured[t])
    for peak in peaks[:MAX_PEAKS]:  # the highest coarse points and their near-ties
        measured = measure(range(max(1, peak - APEX_REFINE), min(last, peak + APEX_REFINE) + 1))
    known = sorted(measured)
    return np.interp(np.arange(len(small)), known, [measured[t] for t in known])


def smooth_curve(curve: np.ndarray) -> np.ndarray:
    """The motion curve as spotting reads it: a 3-frame moving mean (one-frame flow glitches do not make an apex)."""
    curve = np.asarray(curve, float)
    return np.convolve(np.pad(curve, 1, mode="edge"), np.ones(3) / 3, mode="valid") if len(curve) >= 3 else curve


def spot_phases(curve: np.ndarray) -> tuple[int, int, int]:
    """Apex = peak of the (lightly smoothed) curve; onset/offset where it falls under ONSET_SHARE of it."""
    smooth = smooth_curve(curve)
    apex = int(np.argmax(smooth))
    floor = float(np.percentile(smooth[1:], 10)) if len(smooth) > 1 else 0.0  # noise level
    level = floor + ONSET_SHARE * (float(smooth[apex]) - floor)
    before = np.nonzero(smooth[:apex] <= level)[0]
    after = np.nonzero(smooth[apex + 1 :] <= level)[0]
    onset = int(before[-1]) if len(before) else 0
    offset = int(apex + 1 + after[0]) if len(after) else len(curve) - 1
    if apex == 0:  # nothing rises above frame 0: keep a valid ordering
        apex = min(1, len(curve) - 1)
    return onset, apex, max(offset, apex)


def check_given(phases: tuple[int, int, int], n_frames: int, source: str) -> tuple[int, int, int]:
    onset, apex, offset = (int(p) for p in phases)
    if not 0 <= onset < apex <= offset < n_frames:
        raise ConfigError(
            f"{source}: phases onset={onset}, apex={apex}, offset={offset} must satisfy "
            f"0 <= onset < apex <= offset < {n_frames} (frame count)"
        )
    return onset, apex, offset


def find_phases(
    gray: np.ndarray, landmarks: np.ndarray, iod: float, given: tuple[int, int, int] | None = None, source: str = "clip",
    depth: np.ndarray | None = None, separate: Separate | None = None, drift: bool = False,
) -> Phases:
    """Spot the phases from motion, or validate and keep the `given` ones (a dataset label); `depth`
    (the crop's depth map) removes the parallax of head turns from the curve too; `separate` speech and blinks;
    `drift` a far turn's slow leftover."""
    curve = motion_curve(gray, landmarks, iod, depth, separate, drift)
    if given is not None:
        return Phases(*check_given(given, len(gray), source), "given", [round(float(c), 5) for c in curve])
    return Phases(*spot_phases(curve), "spotted", [round(float(c), 5) for c in curve])
