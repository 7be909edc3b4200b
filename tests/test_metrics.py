import pytest

from deft.eval.metrics import au_f1, mean_au_f1, uar, uf1


def test_uf1_and_uar_by_hand():
    truth = ["positive", "negative", "negative", "surprise"]
    pred = ["positive", "negative", "surprise", "surprise"]
    # F1: positive 1, negative 2/3, surprise 2/3 ; recall: 1, 1/2, 1
    assert uf1(truth, pred) == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert uar(truth, pred) == pytest.approx((1 + 0.5 + 1) / 3)


def test_au_f1():
    truth = [{"AU12"}, {"AU12", "AU6"}, set()]
    pred = [{"AU12"}, {"AU12"}, {"AU4"}]
    scores = au_f1(truth, pred, ["AU4", "AU6", "AU12"])
    assert scores == {"AU4": 0.0, "AU6": 0.0, "AU12": 1.0}
    assert mean_au_f1(truth, pred, ["AU4", "AU6", "AU12"]) == pytest.approx(0.5)


def test_ece_on_a_hand_worked_case():
    from deft.eval.metrics import expected_calibration_error, reliability_bins

    conf = [0.05, 0.05, 0.55, 0.95, 1.0]
    moved = [False, True, False, True, True]
    bins = reliability_bins(conf, moved)
    assert [b["n"] for b in bins] == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]  # 1.0 falls in the last bin
    assert bins[0]["observed"] == 0.5 and bins[9]["confidence"] == pytest.approx(0.975)
    # 2/5 * |0.05 - 0.5| + 1/5 * |0.55 - 0| + 2/5 * |0.975 - 1|
    assert expected_calibration_error(conf, moved) == pytest.approx(0.18 + 0.11 + 0.01)
    assert expected_calibration_error([0.0, 1.0], [False, True]) == 0.0
