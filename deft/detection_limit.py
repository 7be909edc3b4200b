"""The least motion each AU would need to be reported in one clip, and whether "no AU" can be trusted.

The calibrated confidence (deft.confidence) grows with a rule's strength and falls with the clip's quality
(head motion left over, face size, sharpness, speech, ...). Solved for the AU's decision threshold, with the
rule's test passed and its pull equal to its strength (one muscle moving alone), it gives the least motion
(IOD) the clip would have let deft report; the rule's own threshold (raised by a head turn's parallax) is a
floor under it. Where the expression AUs' limits lie above what a micro-expression moves, or the clip is
unreliable (deft.reliability), finding no AU does not mean there was none: the clip is inconclusive. The limit
is in measured motion: where the flow itself under-reads (heavy compression, tiny faces) more is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import inf, isfinite

import numpy as np

from deft.aus import MOTION_THRESHOLD_IOD
from deft.confidence import Calibration, Covariates, shipped_calibration
from deft.labels import DETECTED_AUS, ORDINARY_AUS

# Apex amplitudes of micro-expression AUs (IOD): deft.data.world.events.EventRanges.micro_iod, ~1-3 px at 61 px
# between the eyes. deft measures a region's mean motion, about MEASURED_SHARE of an AU's apex amplitude (median
# over the expression AUs of clean and blink clips, benchmarks/README). A clip whose limits lie over what the
# middle of the range measures is inconclusive when nothing fired.
MICRO_IOD = (0.015, 0.05)
MEASURED_SHARE = 0.65
INCONCLUSIVE_IOD = float(np.mean(MICRO_IOD)) * MEASURED_SHARE
EXPRESSION_AUS = tuple(au for au in DETECTED_AUS if au not in ORDINARY_AUS)
SEARCH_MAX_IOD = 0.5  # half the eyes' distance: beyond it no face muscle moves, the limit is "never"


@dataclass(frozen=True)
class Sensitivity:
    """Per AU the least motion (IOD, inf: none would do) that would have been reported, and the verdict."""

    limits: dict[str, float]
    inconclusive: bool = False
    reason: str = ""

    def median_limit(self) -> float:
        values = [self.limits[au] for au in EXPRESSION_AUS if au in self.limits]
        return float(np.median(values)) if values else inf

    def to_dict(self) -> dict:
        return {"detection_limit_iod": {au: (round(v, 4) if isfinite(v) else None) for au, v in self.limits.items()},
                "inconclusive": self.inconclusive, "inconclusive_reason": self.reason}


def au_limit(calibration: Calibration, au: str, covariates: Covariates, reliable: bool, floor_iod: float) -> float:
    """The least strength (IOD) at which `au` reaches its decision threshold on this clip (inf: none does)."""
    threshold = calibration.threshold.get(au, 0.5)
    reached = lambda x: calibration.confidence(au, *(2 * [np.log1p(x / MOTION_THRESHOLD_IOD)]), True,  # noqa: E731
                                               covariates, reliable) >= threshold
    if not reached(SEARCH_MAX_IOD):
        return inf
    lo, hi = 0.0, SEARCH_MAX_IOD  # the confidence never falls as the strength grows (fitted slopes >= 0)
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if reached(mid) else (mid, hi)
    return max(hi, floor_iod)


def sensitivity(covariates: Covariates, reliable: bool, fired: set[str], rule_threshold_iod: float = MOTION_THRESHOLD_IOD,
                trusted: bool = True, calibration: Calibration | None = None) -> Sensitivity:
    """Every calibrated AU's detection limit on this clip, and `inconclusive` when no expression AU fired
    (`fired`) where a typical micro-expression would not have been reported or the clip is not `reliable`. `trusted`: False where the
    registration at the apex is not, so no AU could have been reported at all."""
    calibration = calibration or shipped_calibration()
    limits = {au: (au_limit(calibration, au, covariates, reliable, rule_threshold_iod) if trusted else inf)
              for au in DETECTED_AUS if calibration.knows(au)}
    result = Sensitivity(limits)
    median = result.median_limit()
    if set(fired) & set(EXPRESSION_AUS) or (reliable and median <= INCONCLUSIVE_IOD):
        return result
    if not any(isfinite(v) for v in limits.values()):
        need = "no AU could have been reported"
    elif not isfinite(median):
        need = "most expression AUs could not have been reported at any strength"
    elif median > INCONCLUSIVE_IOD:
        need = (f"an expression AU would have needed {median:.3f} IOD of motion (median over AUs) to be reported, "
                f"more than a typical micro-expression shows ({INCONCLUSIVE_IOD:.3f} as deft measures it)")
    else:
        need = "the AU reading is unreliable (see reliable_reason)"
    return Sensitivity(limits, True, f"no expression AU was found, but in this clip {need}: an expression may have "
                                     "been missed")
