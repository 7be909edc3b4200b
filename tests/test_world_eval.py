"""The realism benchmark's row: refused clips count as misses, false positives only on distractor-only clips."""

import pytest

from deft.eval.world_eval import Case, score


def row(aus, composite, apex, pred_aus, pred, pred_apex, error=""):
    return {"case": Case("x.mp4", frozenset(aus), composite, apex), "pred_aus": set(pred_aus), "pred": pred,
            "pred_apex": pred_apex, "error": error}


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
