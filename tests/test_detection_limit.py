"""The least motion each AU needed to be reported, and when finding no AU is inconclusive."""

from math import inf, isfinite, log1p

import pytest

from deft.aus import MOTION_THRESHOLD_IOD
from deft.confidence import Covariates, shipped_calibration
from deft.detection_limit import EXPRESSION_AUS, INCONCLUSIVE_IOD, au_limit, sensitivity
from deft.instruct.faithful import ClipFacts, caveat

GOOD = Covariates(iod_px=70.0, pose_change_deg=1.0, sharpness=300.0, background_iod=0.001, jitter_iod=0.003)
POOR = Covariates(iod_px=24.0, pose_change_deg=15.0, sharpness=20.0, background_iod=0.02, jitter_iod=0.01,
                  registration_error_iod=0.05, head_residual_iod=0.03, ordinary_kinds=frozenset({"speech", "blink"}))


@pytest.mark.parametrize("au", ["AU1", "AU4", "AU12", "AU15"])
def test_the_limit_is_where_the_calibrated_confidence_reaches_the_decision_threshold(au):
    calibration = shipped_calibration()
    limit = au_limit(calibration, au, GOOD, True, 0.0)
    assert isfinite(limit) and limit > 0
    conf = lambda x: calibration.confidence(au, *(2 * [log1p(x / MOTION_THRESHOLD_IOD)]), True, GOOD, True)  # noqa: E731
    assert conf(limit * 1.01) >= calibration.threshold[au] > conf(limit * 0.99)


def test_a_poor_clip_needs_more_motion_than_a_good_one_for_every_au():
    good, poor = sensitivity(GOOD, True, set()), sensitivity(POOR, False, set())
    assert set(good.limits) == set(poor.limits) >= set(EXPRESSION_AUS)
    assert all(poor.limits[au] > good.limits[au] for au in EXPRESSION_AUS)
    assert good.median_limit() < INCONCLUSIVE_IOD < poor.median_limit()


def test_no_au_on_a_poor_clip_is_inconclusive_but_not_on_a_good_one():
    assert not sensitivity(GOOD, True, set()).inconclusive
    poor = sensitivity(POOR, False, set())
    assert poor.inconclusive and "may have been missed" in poor.reason
    assert not sensitivity(POOR, False, {"AU12"}).inconclusive  # an expression AU was found: there is one
    assert sensitivity(POOR, False, {"AU25"}).inconclusive  # parted lips alone are not an expression
    unreliable = sensitivity(GOOD, False, set())  # small limits, but the clip's reading is not to be trusted
    assert unreliable.inconclusive and unreliable.median_limit() > sensitivity(GOOD, True, set()).median_limit()


def test_the_rule_threshold_is_a_floor_and_an_untrusted_registration_reports_nothing():
    assert min(sensitivity(GOOD, True, set(), rule_threshold_iod=0.04).limits.values()) >= 0.04
    untrusted = sensitivity(GOOD, True, set(), trusted=False)
    assert all(v == inf for v in untrusted.limits.values())
    assert untrusted.inconclusive and "no AU could have been reported" in untrusted.reason
    assert untrusted.to_dict()["detection_limit_iod"]["AU12"] is None  # JSON has no infinity


def test_the_explanation_says_it_cannot_tell_instead_of_nothing_moved():
    analysis = {"aus": [], "regions": [], "emotion": {"label": "none", "fine": "none"}, "phases": {},
                **sensitivity(POOR, False, set()).to_dict()}
    note = caveat(ClipFacts.from_analysis(analysis))
    assert note.startswith("deft cannot tell whether there was an expression") and "Nothing moved" not in note
    analysis.update(sensitivity(GOOD, True, set()).to_dict())
    assert "no Action Unit fired" in caveat(ClipFacts.from_analysis(analysis))
