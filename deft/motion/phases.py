"""Onset / apex / offset spotting from the clip's own motion over time."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import cv2
import numpy as np

from deft.errors import ConfigError
from deft.motion.drift import fit_drift
from deft.motion.flow import compute_flow, remove_head_motion
from deft.motion.regions import region_windows

CURVE_SCALE = 0.5  # the motion curve is measured on half-size crops: 4x cheaper, same apex
DRIFT_STRIDE = 2  # a far turn's drift is fitted on every 2nd frame (evenly spaced, as measured in session 4)
# A region's weight in the curve is 1 / (its median motion over the clip + this): one that never moves does not
# get an unbounded weight (IOD; ~1/150 of the smallest micro-expression's motion, deft.data.world.events) ...
REGION_FLOOR_IOD = 1e-4
# ... nor one that moves all clip long a vanishing one: a macro-expression over most of a clip would drop out of
# its own curve (speech left over weighs a mouth region down ~10x, dev speech clips' median; 30-40x at the 10th
# percentile, where this cap holds it).
MAX_DOWNWEIGHT = 16.0
# (measured frames (n,), their per-region mean flows vs frame 0 (n, R, 2), IOD) -> the expression's part of them
Separate = Callable[[np.ndarray, np.ndarray], np.ndarray]
# (each region's motion vs frame 0 with speech and blinks taken out (T, R, 2), the motion curve (T,)) -> per-frame
# score of being the apex
ApexScore = Callable[[np.ndarray, np.ndarray], np.ndarray]
ONSET_SHARE = 0.15  # onset/offset: last/first frame whose motion is under this share of the apex's
# ... on a head that turned far (deft.motion.drift.far_turn): under this share of the apex's rise above its own
# valley (rise_and_fall). The turn's leftover lifts the curve before the apex; read against the clip's noise floor
# the onset came early (dev pose clips: a median 3.5 frames, most of them early) and the AU flow from it carried
# more of the turn's parallax (benchmarks/README).
TURNED_ONSET_SHARE = 0.3
# Peaks of the learned apex's scores count apart when this many frames apart (a micro-expression's apex plateau is
# shorter; apex within +-2 frames is found)
PEAK_APART = 4


@dataclass
class Phases:
    """Frame indices into the analysed clip, and how they were obtained."""

    onset: int
    apex: int
    offset: int
    source: str  # "spotted" | "given"
    curve: list[float]  # head-motion-free mean region motion per frame vs frame 0 (IOD; weighted_motion with speech/blinks)
    # (T, R, 2) each region's motion vs frame 0 that the curve was made of (region_vectors, IOD); not serialised
    vectors: np.ndarray | None = field(default=None, repr=False)
    # The learned apex's per-frame scores (None: the hand rule spotted), whether the onset was read as on a far-turned
    # head (spot_phases' `turned`), and which of the scores' peaks is the apex (0: the best; runner_up)
    scores: np.ndarray | None = field(default=None, repr=False)
    turned: bool = False
    rank: int = 0

    def to_dict(self) -> dict:
        return {"onset": self.onset, "apex": self.apex, "offset": self.offset, "source": self.source, "rank": self.rank}


def region_vectors(gray: np.ndarray, landmarks: np.ndarray, iod: float, depth: np.ndarray | None = None) -> np.ndarray:
    """(T, R, 2) each region's mean stabilised flow (IOD) from frame 0 to every frame, on half-size crops."""
    small = np.stack([cv2.resize(g, None, fx=CURVE_SCALE, fy=CURVE_SCALE, interpolation=cv2.INTER_AREA) for g in gray])
    lm, unit = landmarks * CURVE_SCALE, iod * CURVE_SCALE
    if depth is not None:
        depth = cv2.resize(depth, small.shape[1:][::-1], interpolation=cv2.INTER_AREA) * CURVE_SCALE
    discs = region_windows(small.shape[1:], lm, unit)
    vectors = np.zeros((len(small), len(discs), 2))
    for t in range(1, len(small)):
        flow = remove_head_motion(compute_flow(small[0], small[t], "dis"), lm, unit, depth)
        vectors[t] = np.array([flow[r, c][d].mean(axis=0) for r, c, d in discs]) / unit
    return vectors


def weighted_motion(vectors: np.ndarray) -> np.ndarray:
    """(T,) mean over regions of |motion vs frame 0|, each region weighted by the inverse of its median |motion|
    over the clip (scaled so the weights' median is 1: IOD). A brief expression barely moves its regions' medians;
    what moves a region all clip long (speech left over, a turn's residue, flow noise at low resolution) does,
    so it weighs less, down to 1 / MAX_DOWNWEIGHT (a long macro-expression's own regions stay in the curve)."""
    size = np.linalg.norm(vectors, axis=-1)
    level = (np.median(size[1:], axis=0) if len(size) > 1 else np.zeros(size.shape[1])) + REGION_FLOOR_IOD
    level = np.minimum(level, MAX_DOWNWEIGHT * np.median(level))
    return (size * (np.median(level) / level)).mean(axis=1)


def motion_curve(gray: np.ndarray, landmarks: np.ndarray, iod: float, depth: np.ndarray | None = None,
                 separate: Separate | None = None, drift: bool = False) -> np.ndarray:
    """The clip's motion from frame 0 to every frame (mean over regions, IOD), measured on every frame (a
    micro-expression's peak lasts a few frames). `separate` (deft.ordinary.separate) takes speech and blinks out
    of the per-region motion, and what they leave is weighed down (weighted_motion); `drift` (the head turned
    far) takes the turn's slow drift out too (deft.motion.drift)."""
    return curve_of(region_vectors(gray, landmarks, iod, depth), separate, drift)


def curve_of(vectors: np.ndarray, separate: Separate | None = None, drift: bool = False) -> np.ndarray:
    """motion_curve from the regions' vectors (region_vectors)."""
    return _curve(_separated(vectors, separate), separate is not None, drift)


def _separated(vectors: np.ndarray, separate: Separate | None) -> np.ndarray:
    """The regions' vectors with speech and blinks taken out (as they are where there is no separator)."""
    return vectors if separate is None else separate(np.arange(len(vectors)), vectors)


def _curve(vectors: np.ndarray, separated: bool, drift: bool) -> np.ndarray:
    """curve_of on vectors already `separated` (or not, where the clip had no speech or blink)."""
    frames = np.arange(len(vectors))
    if drift:
        even = np.unique(np.r_[frames[::DRIFT_STRIDE], frames[-1]])
        vectors = vectors - fit_drift(even, len(vectors), vectors[even])(frames)
    if not separated:  # no speech or blink left over to weigh down: every region counts alike
        return np.linalg.norm(vectors, axis=-1).mean(axis=1)
    return weighted_motion(vectors)


def smooth_curve(curve: np.ndarray) -> np.ndarray:
    """The motion curve as spotting reads it: a 3-frame moving mean (one-frame flow glitches do not make an apex)."""
    curve = np.asarray(curve, float)
    return np.convolve(np.pad(curve, 1, mode="edge"), np.ones(3) / 3, mode="valid") if len(curve) >= 3 else curve


def rise_and_fall(smooth: np.ndarray) -> np.ndarray:
    """(T,) how far each frame's motion stands above the higher of the least motion before it and the least after
    it (IOD). An expression rises and falls back within the clip; what a head turn leaves after registration
    mostly grows towards the clip's end (a fast turn there most) and never falls back, so it stands above only one
    side: the clip's last frame scores 0."""
    lowest_before = np.minimum.accumulate(smooth)
    lowest_after = np.minimum.accumulate(smooth[::-1])[::-1]
    return smooth - np.maximum(lowest_before, lowest_after)


def peaks(scores: np.ndarray, n: int) -> list[int]:
    """The frames of the `n` highest `scores` at least PEAK_APART frames from each higher one (fewer if the clip
    runs out)."""
    scores, out = np.array(scores, float), []
    for _ in range(n):
        if not np.isfinite(scores).any():
            break
        out.append(int(np.argmax(scores)))
        scores[max(0, out[-1] - PEAK_APART + 1):out[-1] + PEAK_APART] = -np.inf
    return out


def spot_phases(curve: np.ndarray, turned: bool = False, scores: np.ndarray | None = None,
                apex: int | None = None) -> tuple[int, int, int]:
    """Apex = the frame of the (lightly smoothed) curve that rises highest above both sides (rise_and_fall), or
    where given, the frame of highest `scores` (deft.motion.apex_model), or `apex` itself where given;
    onset/offset where the curve falls under ONSET_SHARE of the apex's motion above the clip's noise floor;
    `turned` (the head turned far): the onset under TURNED_ONSET_SHARE of the apex's rise above its valley."""
    smooth = smooth_curve(curve)
    rise = rise_and_fall(smooth)
    if apex is None:
        apex = int(np.argmax(rise if scores is None else scores))
    floor = float(np.percentile(smooth[1:], 10)) if len(smooth) > 1 else 0.0  # noise level
    base, share = (max(floor, float(smooth[apex] - rise[apex])), TURNED_ONSET_SHARE) if turned else (floor, ONSET_SHARE)
    before = np.nonzero(smooth[:apex] <= base + share * (float(smooth[apex]) - base))[0]
    after = np.nonzero(smooth[apex + 1 :] <= floor + ONSET_SHARE * (float(smooth[apex]) - floor))[0]
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
    apex_score: ApexScore | None = None,
) -> Phases:
    """Spot the phases from motion, or validate and keep the `given` ones (a dataset label); `depth`
    (the crop's depth map) removes the parallax of head turns from the curve too; `separate` speech and blinks;
    `drift` (the head turned far) a far turn's slow leftover, and the onset is read against the apex's valley;
    `apex_score` the learned apex's per-frame scores (deft.motion.apex_model) instead of the curve's rise."""
    vectors = region_vectors(gray, landmarks, iod, depth)
    residual = _separated(vectors, separate)
    curve = _curve(residual, separate is not None, drift)
    scores = None if given is not None or apex_score is None else apex_score(residual, curve)
    phases = check_given(given, len(gray), source) if given is not None else spot_phases(curve, drift, scores)
    return Phases(*phases, "given" if given is not None else "spotted", [round(float(c), 5) for c in curve], vectors,
                  scores, drift)


def runner_up(phases: Phases, rank: int = 1) -> Phases | None:
    """The phases around the learned apex's `rank`-th peak (peaks), None where the apex was not spotted by it or the
    clip has no such peak. deft looks there where the best peak showed no expression (deft.analyze)."""
    if phases.scores is None or phases.source != "spotted":
        return None
    found = peaks(phases.scores, rank + 1)
    if len(found) <= rank:
        return None
    onset, apex, offset = spot_phases(np.asarray(phases.curve), phases.turned, apex=found[rank])
    return replace(phases, onset=onset, apex=apex, offset=offset, rank=rank)
