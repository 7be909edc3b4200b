"""Expression motion apart from ordinary motion: what speech and blinks move, fitted and taken out.

Speech moves the lips, chin and cheeks in step with the mouth's opening; a blink or wink moves the lids
(and drags the brows) down in step with the eye's closure. Over a clip, those regions' motion is regressed on
the ordinary signals that move them, inside the ordinary events only (a widening or a jaw drop can be part
of a surprise and is left in); what is left is the expression's motion, which phases are spotted on. The
flow's reference frame is then phase-matched: the frame nearest the onset, outside the expression, where
the mouth and lids are as open as at the apex, so onset->apex flow holds the expression, not a syllable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from deft.motion.regions import REGION_NAMES
from deft.ordinary.mouth import MouthConfig
from deft.ordinary.eyelids import EyelidConfig
from deft.ordinary.result import Ordinary

# Which regions each kind of ordinary motion moves, and the per-frame signals (Ordinary.signals) it moves them by.
MOUTH_REGIONS = ("upper_lip", "mouth_corner_right", "mouth_corner_left", "lower_lip", "chin", "cheek_right", "cheek_left")
EYE_REGIONS = ("upper_eyelid_right", "upper_eyelid_left", "lower_eyelid_right", "lower_eyelid_left",
               "inner_brow_right", "inner_brow_left", "outer_brow_right", "outer_brow_left", "glabella")
GROUPS = {  # group -> (event kinds, signals, regions)
    "mouth": (("speech",), ("mouth", "lips", "jaw"), MOUTH_REGIONS),
    "eyes": (("blink", "wink", "closed"), ("closure_right", "closure_left"), EYE_REGIONS),
}
# A signal this far apart between two frames is ordinary motion the flow between them sees: a quarter
# of one syllable's opening (MouthConfig.syllable_iod), a quarter of a closure's edge (EyelidConfig.edge).
SCALE = {"mouth": MouthConfig().syllable_iod / 4, "eyes": EyelidConfig().edge / 4}
MAX_REFERENCE_SHIFT_S = 0.5  # the reference frame stays this close to the onset (head drift, lighting)


def _group_frames(ordinary: Ordinary, kinds: tuple[str, ...], n: int, margin: int = 1) -> np.ndarray:
    """(n,) bool: frames inside an event of these kinds (widened by `margin`)."""
    inside = np.zeros(n, bool)
    for e in ordinary.events:
        if e.kind in kinds:
            inside[max(0, e.onset - margin):e.offset + margin + 1] = True
    return inside


def _regressors(ordinary: Ordinary, group: str, frames: np.ndarray) -> np.ndarray | None:
    """(len(frames), k) signals of `group` relative to frame 0, zero outside its events; None if it has none."""
    kinds, names, _ = GROUPS[group]
    if group not in present(ordinary):
        return None
    signals = np.stack([ordinary.signals[name] for name in names], axis=1)
    # Speech runs through a clip (its detected ends are rough): its signals count everywhere. An eyelid event
    # is brief, and the closure score also rises when the eyes widen (part of a surprise): only inside it.
    inside = np.ones(len(signals), bool) if group == "mouth" else _group_frames(ordinary, kinds, len(signals))
    x = (signals - signals[0]) * inside[:, None]
    return x[frames]


@dataclass(frozen=True)
class Separator:
    """Takes speech and blink motion out of per-region motion; the motion curve's hook (deft.motion.phases)."""

    ordinary: Ordinary

    def __call__(self, frames: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """(n,) expression motion (IOD) at `frames` from their (n, R, 2) region mean flows vs frame 0 (IOD):
        the mean over regions of |residual|."""
        return np.linalg.norm(self.residual(frames, vectors), axis=-1).mean(axis=1)

    def residual(self, frames: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """(n, R, 2) region motion less, in each group's regions, its least-squares fit on the group's signals.

        A closing lid only moves the lids and brows down: the eye group's fit is the vertical motion's, with
        non-negative slopes (a brow raise also changes the eye's look, sometimes enough to read as a blink;
        it is never fitted away)."""
        residual = np.array(vectors, float)
        for group, (_, _, regions) in GROUPS.items():
            x = _regressors(self.ordinary, group, frames)
            if x is None or not np.ptp(x, axis=0).any():
                continue
            idx = [REGION_NAMES.index(r) for r in regions]
            xc = x - x.mean(axis=0)  # slopes fitted with an intercept; taken off relative to frame 0 (x = 0 there)
            if group == "eyes":
                for i in idx:
                    dy = residual[:, i, 1]
                    residual[:, i, 1] = dy - x @ nnls(xc, dy - dy.mean())[0]
            else:
                y = residual[:, idx].reshape(len(frames), -1)
                slope, *_ = np.linalg.lstsq(xc, y - y.mean(axis=0), rcond=None)
                residual[:, idx] = (y - x @ slope).reshape(len(frames), len(idx), 2)
        return residual


def present(ordinary: Ordinary) -> list[str]:
    """The groups whose ordinary events the clip has (and whose signals were measured)."""
    return [g for g, (kinds, _, _) in GROUPS.items() if ordinary.signals and any(e.kind in kinds for e in ordinary.events)]


def separator(ordinary: Ordinary) -> Separator | None:
    """The motion curve's hook, or None when the clip has no speech or eyelid event (the curve stays as it was)."""
    return Separator(ordinary) if present(ordinary) else None


def mismatch(ordinary: Ordinary, group: str, a: int, b: int) -> float:
    """How far the group's ordinary signals differ between frames a and b, in SCALE units (0 unmeasured)."""
    if not ordinary.signals:
        return 0.0
    return max(abs(float(ordinary.signals[n][a] - ordinary.signals[n][b])) for n in GROUPS[group][1]) / SCALE[group]


def matched_reference(ordinary: Ordinary, phases: tuple[int, int, int], fps: float) -> int:
    """The frame nearest the expression, within MAX_REFERENCE_SHIFT_S before its onset or after its offset,
    whose mouth and lids match the apex's (every group's mismatch <= 1); else the best-matching one if it
    matches better than the onset; the onset itself when it already matches."""
    onset, apex, offset = phases
    groups = present(ordinary)
    cost = lambda t: max((mismatch(ordinary, g, t, apex) for g in groups), default=0.0)  # noqa: E731
    if cost(onset) <= 1.0:
        return onset
    n, reach = len(next(iter(ordinary.signals.values()))), max(1, round(MAX_REFERENCE_SHIFT_S * fps))
    before, after = range(max(0, onset - reach), onset + 1), range(max(offset, apex + 1), min(n, offset + reach + 1))
    away = {**{t: onset - t for t in before}, **{t: t - offset for t in after}}  # frames from the expression
    good = [t for t in away if cost(t) <= 1.0]
    if good:
        return min(good, key=lambda t: (away[t], t))
    best = min(away, key=cost)
    return best if cost(best) < cost(onset) else onset
