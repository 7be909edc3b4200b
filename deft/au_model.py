"""Learned AU confidences: per AU, a logistic score over the rule's evidence and the motion of every region.

deft.confidence calibrates one AU from its own rule's strength and the clip's quality. This model also reads
what the rule cannot: every region's anatomical motion (up, outward) from reference to apex, and each region's
motion over its own noise, the same quantity on the clip's frames outside the expression (what moves
everywhere, or all clip long, is head, camera or speech, not one muscle). It is fitted by
`benchmarks/calibrate_aus.py` on the world calibration set (never the benchmark's clips) with identity-held-out
decision thresholds, and shipped as `deft/au_model.json`. The reported confidence is the mean of its
probability and deft.confidence's (two calibrated estimates of one probability; the mean beat either alone out
of fold). An AU is still reported only where its rule passed (AUEvidence.evidence names the regions); the
model decides how likely that motion was the muscle.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from deft.aus import MOTION_THRESHOLD_IOD, AUEvidence
from deft.confidence import Covariates, read_fitted, strength_terms
from deft.motion.regions import REGION_NAMES, RegionMotion

MODEL_FILE = Path(__file__).with_name("au_model.json")
MODEL = ("per AU: share*calibrated + (1-share)*sigmoid(b + w.(x - mean)/scale), x = au_features; "
         "per-AU decision thresholds")
# The regions each rule of deft.aus reads (both sides), by name prefix: the AU's own evidence.
AU_REGIONS: dict[str, tuple[str, ...]] = {
    "AU1": ("inner_brow",), "AU2": ("outer_brow",), "AU4": ("inner_brow", "glabella"),
    "AU6": ("cheek", "lower_eyelid"), "AU7": ("lower_eyelid",), "AU9": ("nose_wing",), "AU10": ("upper_lip",),
    "AU12": ("mouth_corner",), "AU14": ("mouth_corner",), "AU15": ("mouth_corner",), "AU17": ("chin", "lower_lip"),
    "AU25": ("lower_lip", "upper_lip"),
}
QUIET_MARGIN = 2  # frames beside onset..offset that still count as the expression, not as noise
NOISE_FLOOR_IOD = 0.002  # a region's noise is never taken below this (about its flow's residual on clean clips)
_OUTWARD = np.array([-1.0 if n.endswith("_right") else 1.0 for n in REGION_NAMES])  # image x -> away from the midline


@dataclass(frozen=True)
class ClipMotion:
    """Per region (REGION_NAMES order), in signed log units: up and outward motion from reference to apex (the
    AU flow), |motion| over noise, its up and outward parts over noise (the phases' curve vectors); and a few
    clip-wide summaries of them (`overall`)."""

    up: np.ndarray
    out: np.ndarray
    snr: np.ndarray
    up_snr: np.ndarray
    out_snr: np.ndarray
    overall: np.ndarray

    def rows(self, start: int, stop: int) -> ClipMotion:
        """Cases start..stop of a batch (motion_features of stacked motion)."""
        return ClipMotion(*(getattr(self, f.name)[start:stop] for f in fields(self)))


def _slog(x: np.ndarray, unit: float = 1.0) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x) / unit)


@dataclass(frozen=True)
class MeasuredMotion:
    """What the features are made of, per region (REGION_NAMES order, IOD): the AU flow's mean (`flow`, image dx,
    dy), the phases' region motion at the apex vs the flow's reference (`apex`, image dx, dy) and its `noise`."""

    flow: np.ndarray
    apex: np.ndarray
    noise: np.ndarray


def quiet_frames(n: int, onset: int, offset: int, margin: int = QUIET_MARGIN) -> np.ndarray:
    """(n,) bool: the frames outside the expression (onset..offset widened by `margin`), where noise is read."""
    quiet = np.ones(n, bool)
    quiet[max(0, onset - margin):offset + margin + 1] = False
    return quiet


def measured_motion(motion_iod: np.ndarray, vectors: np.ndarray, phases: tuple[int, int, int, int]) -> MeasuredMotion:
    """`motion_iod` (R, 2): the AU flow's mean per region (image dx, dy, IOD); `vectors` (T, R, 2): the regions'
    motion vs frame 0 behind the phases' curve (Phases.vectors); `phases`: onset, apex, offset and the flow's
    reference frame. Noise: the RMS of each region's motion vs the reference over the frames outside
    onset..offset (widened by QUIET_MARGIN; every frame if too few are left)."""
    onset, apex, offset, reference = phases
    d = np.asarray(vectors, float) - np.asarray(vectors, float)[reference]
    quiet = quiet_frames(len(d), onset, offset)
    if quiet.sum() < 3:
        quiet = quiet_frames(len(d), onset, offset, margin=1)
    if quiet.sum() < 2:
        quiet[:] = True
    noise = np.sqrt(np.mean(np.sum(d[quiet] ** 2, axis=-1), axis=0)) + NOISE_FLOOR_IOD
    return MeasuredMotion(np.asarray(motion_iod, float), d[apex], noise)


def motion_features(m: MeasuredMotion) -> ClipMotion:
    """The features of `m`; `flow` and `apex` may carry leading batch axes (..., R, 2): every field gets them."""
    flow, apex, noise = m.flow, m.apex, m.noise
    up, out = -flow[..., 1], flow[..., 0] * _OUTWARD
    size = np.hypot(flow[..., 0], flow[..., 1])
    snr = np.hypot(apex[..., 0], apex[..., 1]) / noise
    t = MOTION_THRESHOLD_IOD
    overall = np.stack([np.log1p(np.median(size, -1) / t), np.log1p(np.percentile(size, 10, -1) / t),
                        np.log1p(np.median(snr, -1)), np.log1p(np.percentile(snr, 10, -1)),
                        np.broadcast_to(np.log1p(np.median(noise) / t), size.shape[:-1])], -1)
    return ClipMotion(_slog(up, t), _slog(out, t), np.log1p(snr), _slog(-apex[..., 1] / noise),
                      _slog(apex[..., 0] * _OUTWARD / noise), overall)


def clip_motion(motion_iod: np.ndarray, vectors: np.ndarray, phases: tuple[int, int, int, int]) -> ClipMotion:
    """The features of one clip's motion (measured_motion's arguments)."""
    return motion_features(measured_motion(motion_iod, vectors, phases))


def region_motion_iod(regions: list[RegionMotion], iod: float) -> np.ndarray:
    """(R, 2) the AU flow's mean per region in IOD, REGION_NAMES order."""
    by_name = {r.name: r for r in regions}
    return np.array([[by_name[n].dx / iod, by_name[n].dy / iod] for n in REGION_NAMES])


def own_regions(au: str) -> np.ndarray:
    return np.array([n.startswith(AU_REGIONS[au]) for n in REGION_NAMES])


def au_features(a: AUEvidence, motion: ClipMotion, covariates: Covariates, reliable: bool) -> np.ndarray:
    """One AU's inputs: the rule (passed, strength, pull, strength on a reliable clip), the clip's quality and
    ordinary motion (deft.confidence), its own regions' motion and motion over noise, the clip-wide summaries,
    and every region's up, outward and over-noise motion."""
    s, p = strength_terms(a)
    return feature_rows(a.au, np.array([float(bool(a.evidence))]), np.array([s]), np.array([p]), motion, covariates,
                        reliable)[0]


def feature_rows(au: str, passed: np.ndarray, s: np.ndarray, p: np.ndarray, motion: ClipMotion,
                 covariates: Covariates, reliable: bool) -> np.ndarray:
    """au_features of G cases at once (G, F): `passed`, `s`, `p` (G,) and `motion` with one row or G rows."""
    own, g = own_regions(au), len(s)
    rows = [np.column_stack([passed, s, p, s * reliable]),
            np.concatenate([covariates.terms(reliable), list(covariates.ordinary().values())])[None]]
    rows += [np.atleast_2d(v)[:, own] for v in (motion.up, motion.out, motion.snr, motion.up_snr, motion.out_snr)]
    rows += [np.atleast_2d(v) for v in (motion.overall, motion.up, motion.out, motion.snr)]
    out = np.empty((g, sum(r.shape[1] for r in rows)))
    col = 0
    for r in rows:
        out[:, col:col + r.shape[1]] = r
        col += r.shape[1]
    return out


# A muscle's pull in the region it moves, the first of its AU_REGIONS (deft.aus): (up, outward) weights whose dot
# product with that region's motion is the rule's strength. The rule's other regions (AU4's glabella, AU6's lower
# lid, AU17's lower lip, AU25's upper lip) are only its test, not its pull. AU4's rule also reads the brows' drop
# (the larger of the two counts); its limit is asked along the drawing together, as it always was.
PULL: dict[str, tuple[float, float]] = {
    "AU1": (1.0, 0.0), "AU2": (1.0, 0.0), "AU4": (0.0, -2.0), "AU6": (1.0, 0.0), "AU7": (1.0, 0.0), "AU9": (1.0, 0.0),
    "AU10": (1.0, 0.0), "AU12": (0.6, 0.8), "AU14": (0.0, 1.0), "AU15": (-1.0, 0.2), "AU17": (1.0, 0.0),
    "AU25": (-1.0, 0.0),
}


@lru_cache(maxsize=None)
def _pull(au: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pulled regions' indices, their pull in image dx, dy and that pull over its squared length."""
    wu, wo = PULL[au]
    rows = np.flatnonzero([n.startswith(AU_REGIONS[au][0]) for n in REGION_NAMES])
    w = np.stack([wo * _OUTWARD[rows], np.full(len(rows), -wu)], -1)
    return rows, w, w / np.sum(w ** 2, -1, keepdims=True)


def _pulled(motion: np.ndarray, au: str, x: np.ndarray) -> np.ndarray:
    """(G, R, 2) image motion: `motion` (R, 2) with the pulled regions' component along the pull set so that the
    rule reads strength x (G,); the part across the pull and every other region as measured."""
    rows, w, unit = _pull(au)
    out = np.repeat(np.asarray(motion, float)[None], len(x), 0)
    along = np.sum(motion[rows] * w, -1)  # what the rule reads now
    out[:, rows] += (x[:, None] - along)[..., None] * unit
    return out


def moved_alone(m: MeasuredMotion, au: str, x: np.ndarray) -> MeasuredMotion:
    """This clip's motion had `au`'s muscle moved alone by each strength x (IOD, (G,)): its pulled regions' flow
    and apex motion read x along the pull (across it as measured), every other region as measured, the noise as
    measured (so their motion over noise is that motion over it). motion_features gives its features (the
    clip-wide summaries follow from the regions)."""
    return MeasuredMotion(_pulled(m.flow, au, x), _pulled(m.apex, au, x), m.noise)


@dataclass
class AUModel:
    """Per AU: standardisation (`mean`, `scale`), `weights` and `bias` of a logistic score, averaged with the
    calibrated confidence at `calibration_share`; `threshold[au]`: the confidence from which the AU is reported."""

    mean: dict[str, list[float]]
    scale: dict[str, list[float]]
    weights: dict[str, list[float]]
    bias: dict[str, float]
    threshold: dict[str, float] = field(default_factory=dict)
    calibration_share: float = 0.5
    fitted_on: str = ""
    model: str = MODEL

    def knows(self, au: str) -> bool:
        return au in self.weights

    def probability(self, au: str, x: np.ndarray) -> float:
        """The logistic score alone (an array for feature rows (G, F))."""
        mean, scale, weights = self._arrays(au)
        z = self.bias[au] + (x - mean) / scale @ weights
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))
        return float(p) if np.ndim(p) == 0 else p

    def _arrays(self, au: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`mean`, `scale` and `weights` of `au` as arrays, made once (the limits score hundreds of rows per clip)."""
        cache = self.__dict__.setdefault("_cache", {})
        if au not in cache:
            cache[au] = tuple(np.asarray(v[au], float) for v in (self.mean, self.scale, self.weights))
        return cache[au]

    def confidence(self, au: str, x: np.ndarray, calibrated: float) -> float:
        """The reported confidence: the score averaged with deft.confidence's `calibrated` one (row-wise for
        feature rows)."""
        return self.calibration_share * calibrated + (1.0 - self.calibration_share) * self.probability(au, x)

    def save(self, path: str | Path = MODEL_FILE) -> None:
        Path(path).write_text(json.dumps(asdict(self)) + "\n")

    @classmethod
    def load(cls, path: str | Path = MODEL_FILE) -> AUModel:
        return cls(**read_fitted(path, MODEL, "model"))


@lru_cache(maxsize=1)
def shipped_model() -> AUModel:
    return AUModel.load(MODEL_FILE)


def score_aus(aus: list[AUEvidence], motion: ClipMotion, covariates: Covariates, reliable: bool,
              model: AUModel | None = None) -> list[AUEvidence]:
    """Each calibrated AU's (deft.confidence.calibrate) confidence and threshold from the learned model (the rule's
    own stays `rule_confidence`); an AU the model was not fitted on keeps what it had."""
    model = model or shipped_model()
    out = []
    for a in aus:
        if not model.knows(a.au):
            out.append(a)
            continue
        p = model.confidence(a.au, au_features(a, motion, covariates, reliable), a.confidence)
        out.append(replace(a, confidence=p, rule_confidence=a.rule_score, threshold=model.threshold.get(a.au, 0.5)))
    return out
