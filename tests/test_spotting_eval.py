"""MEGC spotting scores."""

from deft.eval.spotting_eval import iou, match, spotting_counts


def test_iou_inclusive_frames():
    assert iou((0, 9), (0, 9)) == 1.0
    assert iou((0, 9), (10, 19)) == 0.0
    assert iou((0, 9), (5, 14)) == 5 / 15


def test_match_is_one_to_one_best_first():
    assert match([(0, 10), (20, 30)], [(1, 10), (0, 11), (40, 50)]) == [(0, 1)]  # 11/12 beats 10/11
    assert match([(0, 10)], [(8, 20)]) == []  # IoU 3/21 < 0.5


def test_counts_per_kind_and_overall():
    truth = [{"kind": "micro", "onset": 0, "offset": 10}, {"kind": "macro", "onset": 50, "offset": 100},
             {"kind": "blink", "onset": 200, "offset": 205}]
    pred = [{"kind": "micro", "onset": 1, "offset": 10}, {"kind": "micro", "onset": 50, "offset": 100},
            {"kind": "blink", "onset": 200, "offset": 205}]
    c = spotting_counts(truth, pred)
    assert (c["micro"].tp, c["micro"].fp, c["micro"].fn) == (1, 1, 0)
    assert (c["macro"].tp, c["macro"].fp, c["macro"].fn) == (0, 0, 1)  # a wrong kind is no hit
    assert c["overall"].to_dict()["f1"] == round(2 / 4, 4)
