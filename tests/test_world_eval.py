"""The realism benchmark's row: refused clips count as misses, false positives only on distractor-only clips."""

import pytest

from deft.eval.world_eval import Case, case_of, score


def row(aus, composite, apex, pred_aus, pred, pred_apex, error="", kinds=(), found=()):
    case = Case("x.mp4", frozenset(aus), composite, apex, frozenset(kinds),
                frozenset(au for k in kinds for au in {"blink": ["AU45"], "wink": ["AU46"], "speech": ["AU25", "AU26"]}[k]))
    pred_ord = {au for k in found for au in {"blink": ["AU45"], "wink": ["AU46"], "speech": ["AU25", "AU26"]}[k]}
    return {"case": case, "pred_aus": set(pred_aus), "pred": pred, "pred_apex": pred_apex, "error": error,
            "pred_ordinary": set(found), "pred_ordinary_aus": pred_ord}


def test_a_set_score_counts_what_the_benchmark_says():
    rows = [
        row({"AU6", "AU12"}, "positive", 14, {"AU6", "AU12"}, "positive", 15),  # right, apex off by 1
        row({"AU1", "AU2"}, "surprise", 20, {"AU1"}, "surprise", 26),  # apex off by 6
        row({"AU4", "AU7"}, "negative", 10, set(), "none", None, "FaceError: no face"),  # refused
        row(set(), "none", None, {"AU25"}, None, 30),  # talking read as `others`: a false positive
        row(set(), "none", None, set(), "none", 3),  # nothing fired: right
    ]
    s = score("t", rows, seconds=2.5)
    assert s.n_clips == 5 and s.n_failed == 1 and s.clips_per_s == pytest.approx(2.0)
    assert s.apex_median_abs == pytest.approx(3.5)  # the refused clip has no apex to measure
    assert s.apex_within_2 == pytest.approx(1 / 3)  # ... but counts as a miss
    assert s.fp_any_au == pytest.approx(0.5) and s.fp_emotion == pytest.approx(0.5)
    # AU F1 over the truth's AUs: AU1 1, AU2 0, AU4 0, AU6 1, AU7 0, AU12 1
    assert s.au_f1 == pytest.approx(0.5)
    # composite: positive, surprise right; negative missed; none 1 of 2
    assert s.composite_uar == pytest.approx((1 + 1 + 0 + 0.5) / 4)


def test_ordinary_motion_is_scored_as_what_it_is_not_as_a_false_positive():
    rows = [
        row(set(), "none", None, set(), "none", 3, kinds={"blink"}, found={"blink"}),  # a blink, nothing else: right
        row(set(), "none", None, {"AU4"}, "negative", 3, kinds={"blink"}, found={"blink"}),  # found, but an emotion
        row(set(), "none", None, set(), "none", 3, kinds={"speech"}, found={"wink"}),  # speech missed, a wink made up
        row({"AU1", "AU2"}, "surprise", 9, {"AU1", "AU2"}, "surprise", 9, kinds={"speech"}, found={"speech"}),
    ]
    s = score("t", rows, seconds=1.0)
    assert s.as_what_it_is["blink"] == pytest.approx(0.5)  # the second blink clip came out as an emotion
    assert s.as_what_it_is["speech"] == pytest.approx(0.5) and s.as_what_it_is["surprise"] == 1.0
    assert s.as_what_it_is["wink"] != s.as_what_it_is["wink"]  # no wink clip: NaN, not a made-up 1.0
    assert s.ordinary_false["wink"] == pytest.approx(1 / 4) and s.ordinary_false["blink"] == 0.0
    assert s.fp == pytest.approx(1 / 3)  # distractor-only clips with an expression AU or an emotion
    # ordinary AUs: AU45 2/2 found, AU46 made up (not in truth: not in the macro), AU25 and AU26 1 of 2
    assert s.ordinary_au_f1 == pytest.approx((1.0 + 2 / 3 + 2 / 3) / 3)


def test_a_none_is_scored_honest_when_said_inconclusive_and_aus_against_their_limits():
    base = row({"AU12"}, "positive", 14, set(), "none", 15)
    case = Case("x.mp4", frozenset({"AU12"}), "positive", 14, apex_iod=(("AU12", 0.03),))
    rows = [{**base, "case": case, "inconclusive": True, "limits": {"AU12": 0.05}},  # missed, said so; under its limit
            {**base, "case": case, "inconclusive": False, "limits": {"AU12": 0.01}},  # missed, a plain none
            {**base, "case": case, "pred_aus": {"AU12"}, "limits": {"AU12": 0.02}},  # found above its limit
            {**row(set(), "none", None, set(), "none", 3), "inconclusive": True}]
    s = score("t", rows, seconds=1.0)
    assert s.missed_inconclusive == pytest.approx(0.5) and s.distractor_inconclusive == pytest.approx(1.0)
    assert s.found_above_limit == pytest.approx(0.5) and s.found_below_limit == pytest.approx(0.0)


def test_a_case_reads_the_truth_json_of_deft_synth():
    truth = {"aus": {"AU1": 0.02}, "composite": "surprise", "phases": {"onset": 3, "apex": 8, "offset": 12},
             "events": [{"kind": "micro", "aus": ["AU1"]}, {"kind": "wink", "onset": 0, "offset": 6, "aus": ["AU46"]},
                        {"kind": "head", "aus": []}]}
    case = case_of("c.mp4", truth)
    assert (case.aus, case.apex, case.ordinary, case.ordinary_aus) == ({"AU1"}, 8, {"wink"}, {"AU46"})


def test_eyelid_events_are_scored_one_by_one_stated_and_found():
    from deft.eval.world_eval import eye_event_scores

    def clip(truth, found):
        case = Case("x.mp4", frozenset(), "none", None, eye_events=tuple(truth))
        return {"case": case, "eye_events": found}

    rows = [
        clip([("blink", 10, 14), ("wink", 30, 35)], [("blink", 12, 16, False), ("wink", 38, 40, False)]),  # wink 3 late: ok
        clip([("blink", 5, 9)], [("blink", 20, 24, False), ("widen", 0, 4, True), ("closed", 30, 44, True)]),
    ]
    stated, found = eye_event_scores(rows), eye_event_scores(rows, stated=False)
    assert stated["blink"] == (0.5, 0.5)  # 1 of 2 true blinks found; 1 made up over 2 clips
    assert stated["wink"] == (0.0, 0.5)  # 38-40 does not reach 30-35 within 2 frames
    assert stated["widen"][1] == 0.0 and found["widen"][1] == 0.5  # the unsure widening is found, not stated
    assert stated["widen"][0] != stated["widen"][0]  # no true widening: NaN, not a made-up 1.0
    assert found["closed"] == (found["closed"][0], 0.5)


def test_a_case_keeps_the_truths_eyelid_events():
    truth = {"aus": {}, "composite": "none", "phases": {"onset": None, "apex": None, "offset": None},
             "events": [{"kind": "blink", "onset": 3, "apex": 5, "offset": 8, "aus": ["AU45"]},
                        {"kind": "head", "onset": 0, "apex": 9, "offset": 20, "aus": []}]}
    assert case_of("c.mp4", truth).eye_events == (("blink", 3, 8),)
