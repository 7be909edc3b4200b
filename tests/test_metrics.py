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
