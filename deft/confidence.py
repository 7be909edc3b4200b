"""Calibrated AU confidences: a rule's strength and the clip's quality -> how likely the AU really moved.

The rules' own confidence is a logistic of strength that saturates at 1.0 whatever the clip looks like.
Here one logistic model reads, per AU, whether the rule's test passed, its strength and pull, and for
every AU the clip's quality (head motion left over, face size, sharpness, motion length, the reliable
verdict of deft.reliability) and the ordinary motion deft.ordinary found (speech parts the lips; a blink
drags the brows). It is fitted by `benchmarks/calibrate_aus.py` on a world calibration set with its own
seeds (never the benchmark's clips) and shipped as `deft/au_calibration.json` with one decision
threshold per AU: the calibrated confidence at which reporting the AU is F1-best on that set.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from math import exp, log1p, log2, log10
from pathlib import Path

import numpy as np

from deft.aus import MOTION_THRESHOLD_IOD, AUEvidence
from deft.errors import ConfigError
from deft.motion.phases import Phases
from deft.motion.regions import RegionMotion
from deft.tracking import HeadPose, TrackQuality

CALIBRATION_FILE = Path(__file__).with_name("au_calibration.json")
# Head motion left over moves every region; an expression (even surprise with a dropped jaw) leaves some
# still: the 10th percentile of the 18 regions' motion reads the former and not the latter.
BACKGROUND_PERCENTILE = 10
# What a calibration file was fitted on; a file of another model is refused, not misread.
MODEL = ("per AU: sigmoid(a + e*passed + b*log1p(strength/T) + c*log1p(pull/T) + d*log1p(strength/T)*reliable "
         "+ o.ordinary kinds + q.(quality, reliable) + f.(quality, reliable)*passed); per-AU decision thresholds")
# Ordinary motion deft.ordinary finds in the clip, as indicator terms per AU.
ORDINARY_TERMS: dict[str, frozenset[str]] = {"speech": frozenset({"speech"}), "blink": frozenset({"blink", "wink", "closed"}),
                                             "jaw": frozenset({"jaw"})}


@dataclass(frozen=True)
class Covariates:
    """Clip-level quality behind the reliability verdict and the calibration: all measured by deft analyze,
    none from truth."""

    iod_px: float  # face size in the source frames
    pose_change_deg: float  # largest |yaw| or |pitch| change between onset and apex
    sharpness: float  # TrackQuality.sharpness
    background_iod: float  # low quantile of |mean flow| over the 18 regions: what moves everywhere is not one muscle
    jitter_iod: float  # TrackQuality.jitter_iod
    registration_error_iod: float = 0.0  # max stable-landmark residual after registration (0: not measured)
    head_residual_iod: float = 0.0  # TrackQuality.head_residual_iod (0 where the face was lost)
    motion_kind: str = ""  # TrackQuality.motion_kind: micro | macro | longer
    ordinary_kinds: frozenset[str] = frozenset()  # kinds deft.ordinary found in the clip (speech, blink, ...)

    def vector(self) -> np.ndarray:
        """Fixed transforms to roughly unit scale (calibrate_aus.py tabulates the rules' precision over them)."""
        return np.array([
            log2(max(self.iod_px, 1.0) / 40.0), self.pose_change_deg / 10.0, log10(max(self.sharpness, 1.0)) - 2.0,
            log1p(self.background_iod / MOTION_THRESHOLD_IOD), self.jitter_iod / 0.01, self.registration_error_iod / 0.05,
            self.head_residual_iod / 0.01,
        ])

    def terms(self, reliable: bool) -> np.ndarray:
        """The model's clip-level inputs (QUALITY_TERMS), clipped to the range calibrated so that a face
        beyond it is read like the edge of what was measured, not extrapolated."""
        return np.array([
            min(self.head_residual_iod / 0.01, 4.0), min(log1p(self.background_iod / MOTION_THRESHOLD_IOD), 3.0),
            min(self.pose_change_deg / 10.0, 2.0), float(np.clip(log2(max(self.iod_px, 1.0) / 40.0), -1.2, 1.5)),
            float(np.clip(log10(max(self.sharpness, 1.0)) - 2.0, -1.5, 1.0)), float(self.motion_kind == "macro"),
            float(self.motion_kind == "longer"), min(self.jitter_iod / 0.01, 3.0), float(reliable),
        ])

    def ordinary(self) -> dict[str, float]:
        return {name: float(bool(kinds & self.ordinary_kinds)) for name, kinds in ORDINARY_TERMS.items()}


QUALITY_TERMS = ("head_residual_per_0.01iod", "log1p_background_per_threshold", "pose_change_per_10deg",
                 "log2_iod_px_over_40", "log10_sharpness_minus_2", "macro", "longer", "jitter_per_0.01iod", "reliable")
COVARIATES = ("log2_iod_px_over_40", "pose_change_per_10deg", "log10_sharpness_minus_2", "log1p_background_per_threshold",
              "jitter_per_0.01iod", "registration_error_per_0.05iod", "head_residual_per_0.01iod")


def strength_terms(a: AUEvidence) -> tuple[float, float]:
    """(strength, pull) of a rule in log units of the motion threshold; strength is 0 where its test failed."""
    return log1p(max(a.strength_iod, 0.0) / MOTION_THRESHOLD_IOD), log1p(max(a.pull_iod, 0.0) / MOTION_THRESHOLD_IOD)


@dataclass
class Calibration:
    """P(moved) = sigmoid(intercept[au] + passed[au]*t + slope[au]*s + pull*p + reliable_slope*s*r
    + sum_k ordinary[k][au]*o_k + quality.q + quality_passed.q*t), t = the rule's own test passed, s/p =
    strength_terms, r = the clip judged reliable, q = Covariates.terms, o = Covariates.ordinary. The slopes
    and pull are fitted >= 0, so a stronger motion never lowers the confidence (on a steady face it means
    more). `threshold[au]`: the confidence from which the AU is reported."""

    intercept: dict[str, float]
    passed: dict[str, float]
    slope: dict[str, float]
    pull: float
    reliable_slope: float
    ordinary: dict[str, dict[str, float]]  # ORDINARY_TERMS name -> AU -> weight
    quality: dict[str, float]  # QUALITY_TERMS name -> weight, every rule
    quality_passed: dict[str, float]  # QUALITY_TERMS name -> weight, rules whose test passed
    threshold: dict[str, float] = field(default_factory=dict)  # AU -> decision threshold (0.5 where absent)
    fitted_on: str = ""
    model: str = MODEL

    def knows(self, au: str) -> bool:
        return au in self.intercept

    def confidence(self, au: str, s: float, p: float, fired: bool, covariates: Covariates, reliable: bool) -> float:
        """The reported confidence: P(moved) itself. A rule whose own test failed (no evidence regions) is never
        reported, whatever its confidence (AUEvidence.fired): talking parts the lips (AU25 likely moved) where
        the flow rule for AU25 may not pass."""
        q = covariates.terms(reliable)
        z = (self.intercept[au] + self.passed[au] * fired + max(self.slope[au], 0.0) * s + max(self.pull, 0.0) * p
             + max(self.reliable_slope, 0.0) * s * reliable
             + sum(self.ordinary[k].get(au, 0.0) * v for k, v in covariates.ordinary().items())
             + float(q @ np.array([self.quality[n] + self.quality_passed[n] * fired for n in QUALITY_TERMS])))
        if np.ndim(z):  # strengths (s, p) given as arrays: one confidence each
            return 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))
        return 1.0 / (1.0 + exp(-max(-60.0, min(60.0, z))))

    def save(self, path: str | Path = CALIBRATION_FILE) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path = CALIBRATION_FILE) -> Calibration:
        return cls(**read_fitted(path, MODEL, "calibration"))


def read_fitted(path: str | Path, model: str, what: str) -> dict:
    """A fitted file's fields (JSON), refused with a ConfigError if unreadable or of another `model`."""
    try:
        d = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path}: cannot read the AU {what} ({err}); reinstall deft or refit it with "
                          "python benchmarks/calibrate_aus.py") from err
    if d.get("model") != model:
        raise ConfigError(f"{path}: an AU {what} of another model ({d.get('model')!r}); this deft reads {model!r}: "
                          "refit it with python benchmarks/calibrate_aus.py")
    return d


@lru_cache(maxsize=1)
def shipped_calibration() -> Calibration:
    return Calibration.load(CALIBRATION_FILE)


def calibrate(aus: list[AUEvidence], covariates: Covariates, reliable: bool,
              calibration: Calibration | None = None) -> list[AUEvidence]:
    """Each rule's evidence with its confidence calibrated (the rule's own kept as `rule_confidence`) and its
    decision threshold. An AU the calibration was not fitted on keeps its rule confidence."""
    calibration = calibration or shipped_calibration()
    out = []
    for a in aus:
        if not calibration.knows(a.au):
            out.append(a)
            continue
        p = calibration.confidence(a.au, *strength_terms(a), bool(a.evidence), covariates, reliable)
        out.append(replace(a, confidence=p, rule_confidence=a.confidence, threshold=calibration.threshold.get(a.au, 0.5)))
    return out


def clip_covariates(quality: TrackQuality, pose: HeadPose, phases: Phases, regions: list[RegionMotion],
                    ordinary_kinds: set[str] | frozenset[str] = frozenset()) -> Covariates:
    """The covariates of one analysed clip (`quality` with clip_quality's measures filled in; the kinds of
    ordinary motion deft.ordinary found)."""
    change = [abs(float(v[phases.apex] - v[phases.onset])) for v in (pose.yaw, pose.pitch)]
    change = [c for c in change if np.isfinite(c)]
    pose_change = max(change) if change else max(quality.pose_range.get("yaw", 0.0), quality.pose_range.get("pitch", 0.0))
    background = float(np.percentile([r.mean_iod for r in regions], BACKGROUND_PERCENTILE))
    residual = quality.head_residual_iod if np.isfinite(quality.head_residual_iod) else 0.0
    return Covariates(quality.iod_px, pose_change, quality.sharpness, background, quality.jitter_iod,
                      quality.registration_error_iod or 0.0, residual, quality.motion_kind, frozenset(ordinary_kinds))
