"""Calibrated AU confidences: a rule's strength and the clip's reliability -> how likely the AU really moved.

The rules' own confidence is a logistic of strength that saturates at 1.0 whatever the clip looks like.
Here a Platt-style model per AU reads the rule's strength and pull, separately for clips deft.reliability
calls reliable and the rest, fitted by `benchmarks/calibrate_aus.py` on a world calibration set with its
own seeds (never the benchmark's clips) and shipped as `deft/au_calibration.json`. A confidence >= 0.5
still means fired.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
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
# A rule whose own test failed (no evidence regions) is never reported as fired, whatever the model says.
UNFIRED_CAP = 0.49
# Head motion left over moves every region; an expression (even surprise with a dropped jaw) leaves some
# still: the 10th percentile of the 18 regions' motion reads the former and not the latter.
BACKGROUND_PERCENTILE = 10
# What a calibration file was fitted on; a file of another model is refused, not misread.
MODEL = "per AU: sigmoid(a + e*passed + b*log1p(strength/T) + c*log1p(pull/T)); reliable / unreliable"


@dataclass(frozen=True)
class Covariates:
    """Clip-level quality behind the reliability verdict: all measured by deft analyze, none from truth."""

    iod_px: float  # face size in the source frames
    pose_change_deg: float  # largest |yaw| or |pitch| change between onset and apex
    sharpness: float  # TrackQuality.sharpness
    background_iod: float  # low quantile of |mean flow| over the 18 regions: what moves everywhere is not one muscle
    jitter_iod: float  # TrackQuality.jitter_iod
    registration_error_iod: float = 0.0  # max stable-landmark residual after registration (0: not measured)
    head_residual_iod: float = 0.0  # TrackQuality.head_residual_iod (0 where the face was lost)

    def vector(self) -> np.ndarray:
        """Fixed transforms to roughly unit scale (calibrate_aus.py tabulates the rules' precision over them)."""
        return np.array([
            log2(max(self.iod_px, 1.0) / 40.0), self.pose_change_deg / 10.0, log10(max(self.sharpness, 1.0)) - 2.0,
            log1p(self.background_iod / MOTION_THRESHOLD_IOD), self.jitter_iod / 0.01, self.registration_error_iod / 0.05,
            self.head_residual_iod / 0.01,
        ])


COVARIATES = ("log2_iod_px_over_40", "pose_change_per_10deg", "log10_sharpness_minus_2", "log1p_background_per_threshold",
              "jitter_per_0.01iod", "registration_error_per_0.05iod", "head_residual_per_0.01iod")


def strength_terms(a: AUEvidence) -> tuple[float, float]:
    """(strength, pull) of a rule in log units of the motion threshold; strength is 0 where its test failed."""
    return log1p(max(a.strength_iod, 0.0) / MOTION_THRESHOLD_IOD), log1p(max(a.pull_iod, 0.0) / MOTION_THRESHOLD_IOD)


@dataclass
class AUModel:
    """P = sigmoid(intercept[au] + passed[au]·[the rule's own test passed] + slope[au]·s + pull·p).

    Fitted with slope and pull >= 0, so a stronger motion never lowers the confidence (monotone per AU).
    """

    intercept: dict[str, float]
    passed: dict[str, float]
    slope: dict[str, float]
    pull: float

    def probability(self, au: str, s: float, p: float, fired: bool) -> float:
        z = self.intercept[au] + self.passed[au] * fired + max(self.slope[au], 0.0) * s + max(self.pull, 0.0) * p
        return 1.0 / (1.0 + exp(-max(-60.0, min(60.0, z))))


@dataclass
class Calibration:
    """One AUModel for clips deft.reliability calls reliable and one for the rest: on a steady face the
    rules are mostly right, on a turning one mostly wrong. The clip's quality enters through that verdict
    only: as further linear terms (face size, sharpness, jitter, pose change) it did not lower the
    out-of-fold ECE and extrapolated badly to the blurriest, smallest faces."""

    reliable: AUModel
    unreliable: AUModel
    fitted_on: str = ""
    model: str = MODEL

    def knows(self, au: str) -> bool:
        return au in self.reliable.intercept and au in self.unreliable.intercept

    def confidence(self, au: str, s: float, p: float, fired: bool, reliable: bool) -> float:
        """The reported confidence: the probability, capped under 0.5 where the rule's own test failed."""
        prob = (self.reliable if reliable else self.unreliable).probability(au, s, p, fired)
        return prob if fired else min(prob, UNFIRED_CAP)

    def save(self, path: str | Path = CALIBRATION_FILE) -> None:
        d = asdict(self)
        Path(path).write_text(json.dumps(d, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path = CALIBRATION_FILE) -> Calibration:
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            raise ConfigError(f"{path}: cannot read the AU calibration ({err}); reinstall deft or refit it with "
                              "python benchmarks/calibrate_aus.py") from err
        if d.get("model") != MODEL:
            raise ConfigError(f"{path}: a calibration of another model ({d.get('model')!r}); this deft reads {MODEL!r}: "
                              "refit it with python benchmarks/calibrate_aus.py")
        return cls(AUModel(**d["reliable"]), AUModel(**d["unreliable"]), d.get("fitted_on", ""), MODEL)


@lru_cache(maxsize=1)
def shipped_calibration() -> Calibration:
    return Calibration.load(CALIBRATION_FILE)


def calibrate(aus: list[AUEvidence], reliable: bool, calibration: Calibration | None = None) -> list[AUEvidence]:
    """Each rule's evidence with its confidence calibrated (the rule's own kept as `rule_confidence`).

    An AU the calibration was not fitted on keeps its rule confidence.
    """
    calibration = calibration or shipped_calibration()
    out = []
    for a in aus:
        if not calibration.knows(a.au):
            out.append(a)
            continue
        p = calibration.confidence(a.au, *strength_terms(a), bool(a.evidence), reliable)
        out.append(replace(a, confidence=p, rule_confidence=a.confidence))
    return out


def clip_covariates(quality: TrackQuality, pose: HeadPose, phases: Phases, regions: list[RegionMotion]) -> Covariates:
    """The covariates of one analysed clip (`quality` with clip_quality's measures filled in)."""
    change = [abs(float(v[phases.apex] - v[phases.onset])) for v in (pose.yaw, pose.pitch)]
    change = [c for c in change if np.isfinite(c)]
    pose_change = max(change) if change else max(quality.pose_range.get("yaw", 0.0), quality.pose_range.get("pitch", 0.0))
    background = float(np.percentile([r.mean_iod for r in regions], BACKGROUND_PERCENTILE))
    residual = quality.head_residual_iod if np.isfinite(quality.head_residual_iod) else 0.0
    return Covariates(quality.iod_px, pose_change, quality.sharpness, background, quality.jitter_iod,
                      quality.registration_error_iod or 0.0, residual)
