"""The least motion each AU would need to be reported in one clip, and whether "no AU" can be trusted.

The hypothetical: on THIS clip, one muscle moves alone by x IOD. Its rule's test passes with strength = pull
= x; its pulled regions (deft.au_model.PULL) move so that the rule reads x along the muscle's pull in both the
AU flow and the phases' apex motion (across the pull, and every other region, as measured), so their motion
over noise is that motion over the clip's measured noise; the clip's quality, ordinary motion and every other
feature stay as measured. The limit is the least x at which deft's reported decision holds: the calibrated
confidence (deft.confidence) averaged with the learned score (deft.au_model) reaching the learned threshold,
or the calibration alone where deft analyzes without the learned score. The learned score need not grow with
x (some weights are negative), so the limit is the least x from which the decision holds at every larger
point of a geometric search grid, refined between that point and the one below. The rule's own threshold
(raised by a head turn's parallax) is a floor under it; an untrusted registration reports nothing (inf).
Where the expression AUs' limits lie above what a micro-expression moves, or the clip is unreliable
(deft.reliability), finding no AU does not mean there was none: the clip is inconclusive. The limit is in
measured motion: where the flow itself under-reads (heavy compression, tiny faces) more is needed. Where the
compression froze an AU's own regions from reference to apex (deft.motion.frozen) no motion could show there:
that AU is unseen, its limit is "never", and finding no AU is inconclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import inf, isfinite

import numpy as np

from deft.au_model import AUModel, MeasuredMotion, feature_rows, motion_features, moved_alone, own_regions
from deft.aus import MOTION_THRESHOLD_IOD, AUEvidence
from deft.confidence import Calibration, Covariates, shipped_calibration
from deft.labels import DETECTED_AUS, ORDINARY_AUS
from deft.motion.frozen import FROZEN_SHARE
from deft.tracking.quality import MAX_OUT_OF_PLANE_DEG, POSE_NOISE_DEG

# Apex amplitudes of micro-expression AUs (IOD): deft.data.world.events.EventRanges.micro_iod, ~1-3 px at 61 px
# between the eyes. deft measures a region's mean motion, about MEASURED_SHARE of an AU's apex amplitude (median
# over the expression AUs of clean and blink clips, benchmarks/README). A clip whose limits lie over what the
# middle of the range measures is inconclusive when nothing fired.
MICRO_IOD = (0.015, 0.05)
MEASURED_SHARE = 0.65
INCONCLUSIVE_IOD = float(np.mean(MICRO_IOD)) * MEASURED_SHARE
# On video x264 coded at a rate factor (deft.encoder) the codec lets fine motion go before the flow sees it: the
# share measured, (CRF, share), rounded medians over expression AUs read at their true apex (a still face at CRF 18,
# 23, 28, 33; the calibration set's compression clips at 28-35; benchmarks/README, "What a detection limit
# promises"). Lossless (CRF/QP 0) or unknown: MEASURED_SHARE; linear between, flat past the last.
CODEC_SHARE = ((18.0, 0.52), (23.0, 0.47), (28.0, 0.45), (30.0, 0.35), (32.0, 0.28), (34.0, 0.15))
EXPRESSION_AUS = tuple(au for au in DETECTED_AUS if au not in ORDINARY_AUS)
SEARCH_MAX_IOD = 0.5  # half the eyes' distance: beyond it no face muscle moves, the limit is "never"
SEARCH_MIN_IOD = MOTION_THRESHOLD_IOD / 50  # where no rule threshold is given as a floor
GRID, REFINE = 48, 24  # geometric search points (about 10 % apart from the rule threshold), then linear ones
# Under a head that turned in depth (yaw or pitch range over the clip) past what a 2D alignment undoes, where the
# learned apex gave no frame this probability, deft does not know when an expression would have peaked: where no
# expression AU showed (at the best peak or the runner-up), the apex was mostly elsewhere (benchmarks/README, "When
# the spotter is unsure under a turning head").
APEX_SURE = 0.5
LIKELY = 0.5  # an AU's calibrated confidence from which it more likely moved than not
TURNED_DEG = MAX_OUT_OF_PLANE_DEG + POSE_NOISE_DEG


@dataclass(frozen=True)
class Sensitivity:
    """Per AU the least motion (IOD, inf: none would do) that would have been reported, and the verdict."""

    limits: dict[str, float]
    inconclusive: bool = False
    reason: str = ""
    unseen: tuple[str, ...] = ()  # expression AUs whose regions the compression froze (unseen_aus)
    measured_share: float = MEASURED_SHARE  # of an AU's apex amplitude, what deft typically measures in this video

    def median_limit(self) -> float:
        values = [self.limits[au] for au in EXPRESSION_AUS if au in self.limits]
        return float(np.median(values)) if values else inf

    def amplitudes(self) -> dict[str, float]:
        """Per AU the apex amplitude (IOD) whose typical measured share (`measured_share`) is its limit: the limit in
        the face's own motion, as typical; a given clip measures more or less of it (benchmarks/README, "What a
        detection limit promises")."""
        return {au: v / self.measured_share for au, v in self.limits.items()}

    def to_dict(self) -> dict:
        def rounded(values: dict[str, float]) -> dict[str, float | None]:
            return {au: (round(v, 4) if isfinite(v) else None) for au, v in values.items()}

        return {"detection_limit_iod": rounded(self.limits), "detection_limit_amplitude_iod": rounded(self.amplitudes()),
                "measured_share": round(self.measured_share, 2), "inconclusive": self.inconclusive,
                "inconclusive_reason": self.reason, "unseen_aus": list(self.unseen)}


def reported(calibration: Calibration, xs: dict[str, np.ndarray], covariates: Covariates, reliable: bool,
             model: AUModel | None = None, motion: MeasuredMotion | None = None) -> dict[str, np.ndarray]:
    """Per AU and strength x (IOD) in `xs`: whether deft would report the AU had its muscle moved alone by x (the
    module's hypothetical); the learned score joins where `model` and `motion` are given and the model knows the
    AU. Every AU's hypothetical clips are featurised in one batch (a few ms per clip)."""
    out = {au: calibration.confidence(au, np.log1p(x / MOTION_THRESHOLD_IOD), np.log1p(x / MOTION_THRESHOLD_IOD),
                                      True, covariates, reliable) for au, x in xs.items()}
    learned = [au for au in xs if model is not None and motion is not None and model.knows(au)]
    if learned:
        moved = [moved_alone(motion, au, xs[au]) for au in learned]
        batch = motion_features(MeasuredMotion(np.concatenate([m.flow for m in moved]),
                                               np.concatenate([m.apex for m in moved]), motion.noise))
        start = 0
        for au in learned:
            x, s = xs[au], np.log1p(xs[au] / MOTION_THRESHOLD_IOD)
            rows = feature_rows(au, np.ones(len(x)), s, s, batch.rows(start, start + len(x)), covariates, reliable)
            out[au] = model.confidence(au, rows, out[au])
            start += len(x)
    return {au: c >= (model.threshold.get(au, 0.5) if au in learned else calibration.threshold.get(au, 0.5))
            for au, c in out.items()}


def _stays(ok: np.ndarray) -> int:
    """The first index from which every entry of `ok` holds (len(ok) if the last does not)."""
    return len(ok) - int(np.argmin(ok[::-1])) if not ok.all() else 0


def au_limits(calibration: Calibration, aus: list[str], covariates: Covariates, reliable: bool, floor_iod: float,
              model: AUModel | None = None, motion: MeasuredMotion | None = None) -> dict[str, float]:
    """Per AU the least strength (IOD, from `floor_iod` up) from which it is reported on this clip (inf: none is)."""
    grid = np.geomspace(max(floor_iod, SEARCH_MIN_IOD), SEARCH_MAX_IOD, GRID)
    first = {au: _stays(ok) for au, ok in reported(calibration, {au: grid for au in aus}, covariates, reliable,
                                                    model, motion).items()}
    limits = {au: (inf if i == len(grid) else max(float(grid[0]), floor_iod)) for au, i in first.items()}
    fine = {au: np.linspace(grid[i - 1], grid[i], REFINE + 1)[1:] for au, i in first.items() if 0 < i < len(grid)}
    for au, ok in reported(calibration, fine, covariates, reliable, model, motion).items():
        limits[au] = float(fine[au][_stays(ok)])
    return limits


def unseen_aus(frozen: np.ndarray, fired: set[str]) -> tuple[str, ...]:
    """Expression AUs not `fired` whose own regions (deft.au_model.AU_REGIONS) were on average at least
    FROZEN_SHARE frozen; `frozen` per region in REGION_NAMES order (deft.motion.frozen.frozen_shares)."""
    return tuple(au for au in EXPRESSION_AUS
                 if au not in fired and float(np.mean(frozen[own_regions(au)])) >= FROZEN_SHARE)


def unseen_warnings(unseen: tuple[str, ...]) -> list[str]:
    if not unseen:
        return []
    return [f"{', '.join(unseen)} could not be seen: the video's compression froze their regions from the reference "
            "to the apex (no pixel changed there), so they are neither found nor ruled out"]


def unsure_apex(scores: np.ndarray | None, pose_range: dict[str, float]) -> str:
    """Why deft does not know when an expression would have peaked in this clip ("" where it does): the learned
    apex's per-frame `scores` (log-odds; None: it did not spot) reached APEX_SURE nowhere while the head's yaw or
    pitch ranged over TURNED_DEG (`pose_range`: HeadPose.range())."""
    if scores is None or not len(scores):
        return ""
    best = float(1.0 / (1.0 + np.exp(-np.max(scores))))
    turn = max(pose_range.get("yaw", 0.0), pose_range.get("pitch", 0.0))
    if best >= APEX_SURE or turn <= TURNED_DEG:
        return ""
    return (f"the head turned by {turn:.0f}° in depth and no frame stood out as an expression's apex (the spotter's "
            f"best gave {best:.2f})")


def likely_aus(aus: list[AUEvidence]) -> dict[str, tuple[float, float]]:
    """Expression AUs that did not fire, though their confidence (a calibrated probability that the muscle moved)
    is LIKELY or more: AU -> (confidence, decision threshold). Their threshold is set for F1 over many clips; on
    this one "no AU" would say less than deft measured."""
    return {a.au: (a.confidence, a.threshold) for a in aus
            if a.au in EXPRESSION_AUS and not a.fired and a.confidence >= LIKELY}


def measured_share(crf: float | None) -> float:
    """The share of an AU's apex amplitude deft measures in a video x264 coded at `crf` (CODEC_SHARE; None or 0:
    unknown or lossless, MEASURED_SHARE)."""
    if crf is None or crf <= 0:
        return MEASURED_SHARE
    rates, shares = zip((0.0, MEASURED_SHARE), *CODEC_SHARE)
    return float(np.interp(crf, rates, shares))


def typical_micro_iod(crf: float | None = None) -> float:
    """A mid-range micro-expression as deft measures it at x264 rate factor `crf` (INCONCLUSIVE_IOD uncoded)."""
    return float(np.mean(MICRO_IOD)) * measured_share(crf)


def sensitivity(covariates: Covariates, reliable: bool, fired: set[str], rule_threshold_iod: float = MOTION_THRESHOLD_IOD,
                trusted: bool = True, calibration: Calibration | None = None, motion: MeasuredMotion | None = None,
                model: AUModel | None = None, unseen: tuple[str, ...] = (), doubted: tuple[str, ...] = (),
                apex_doubt: str = "", crf: float | None = None,
                likely: dict[str, tuple[float, float]] | None = None) -> Sensitivity:
    """Every calibrated AU's detection limit on this clip, and `inconclusive` when no expression AU fired
    (`fired`) where a typical micro-expression would not have been reported, an expression AU was `unseen`
    (unseen_aus: the compression froze its regions) or the clip is not `reliable`.
    `trusted`: False where the registration at the apex is not, so no AU could have been reported at all.
    `motion` and `model`: the clip's measured region motion and the learned score deft reported with (None:
    it reported with the calibration alone). `doubted`: expression AUs that fired but were set aside only by eyelid
    events deft cannot tell from a head turn (deft.ordinary.set_aside), or `apex_doubt` (unsure_apex): finding no AU
    is then inconclusive too. `crf`: the video's x264 rate factor (deft.encoder; None: unknown), which lowers what a
    typical micro-expression measures (typical_micro_iod). `likely`: expression AU -> (confidence, decision threshold)
    of those that did not fire though their calibrated confidence says they more likely moved than not (likely_aus):
    finding no AU is then inconclusive too."""
    calibration = calibration or shipped_calibration()
    known = [au for au in DETECTED_AUS if calibration.knows(au)]
    limits = (au_limits(calibration, known, covariates, reliable, rule_threshold_iod, model, motion) if trusted
              else dict.fromkeys(known, inf))
    limits.update({au: inf for au in unseen if au in limits})
    result = Sensitivity(limits, unseen=tuple(unseen), measured_share=measured_share(crf))
    median, typical = result.median_limit(), typical_micro_iod(crf)
    doubted = tuple(au for au in EXPRESSION_AUS if au in doubted)
    likely = {au: v for au, v in (likely or {}).items() if au in EXPRESSION_AUS}
    if set(fired) & set(EXPRESSION_AUS) or (reliable and median <= typical
                                            and not (unseen or doubted or apex_doubt or likely)):
        return result
    if apex_doubt:
        need = apex_doubt
    elif likely:
        named = sorted(likely, key=lambda au: -likely[au][0])
        need = (" and ".join(f"{au} ({likely[au][0]:.2f})" for au in named) + " more likely moved than not, though under "
                "the confidence from which deft reports " + ("it" if len(named) == 1 else "them") + " ("
                + ", ".join(f"{likely[au][1]:.2f}" for au in named) + ")")
    elif doubted:
        need = (f"{', '.join(doubted)} moved where a lid moved that deft cannot tell from head motion, so they were "
                "set aside though they may not be that lid's")
    elif unseen:
        need = (f"the video's compression froze the regions of {', '.join(unseen)} (no pixel changed from reference "
                "to apex), so their motion could not be seen")
    elif not any(isfinite(v) for v in limits.values()):
        need = "no AU could have been reported"
    elif not isfinite(median):
        need = "most expression AUs could not have been reported at any strength"
    elif median > typical:
        coded = f" in a video x264 coded at CRF {crf:g}" if result.measured_share < MEASURED_SHARE else ""
        need = (f"an expression AU would have needed {median:.3f} IOD of motion (median over AUs) to be reported, "
                f"more than a typical micro-expression shows ({typical:.3f} as deft measures it{coded})")
    else:
        need = "the AU reading is unreliable (see reliable_reason)"
    return Sensitivity(limits, True, f"no expression AU was found, but in this clip {need}: an expression may have "
                                     "been missed", tuple(unseen), result.measured_share)
