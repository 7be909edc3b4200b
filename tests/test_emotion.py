import pytest

from deft.aus import AU_NAMES, AUEvidence
from deft.emotion import classify_emotion


def _aus(*names, side="both"):
    return [AUEvidence(n, AU_NAMES[n], 0.95, 0.02, side, ["x"]) for n in names]


@pytest.mark.parametrize(
    "aus, fine, label",
    [
        (("AU6", "AU12"), "happiness", "positive"),
        (("AU12",), "happiness", "positive"),
        (("AU1", "AU2"), "surprise", "surprise"),
        (("AU1", "AU2", "AU25"), "surprise", "surprise"),
        (("AU1", "AU2", "AU4"), "fear", "negative"),
        (("AU1", "AU4", "AU15"), "sadness", "negative"),
        (("AU4", "AU7"), "anger", "negative"),
        (("AU9", "AU10"), "disgust", "negative"),
        (("AU15", "AU17"), "repression", "negative"),
        (("AU14",), "repression", "negative"),
    ],
)
def test_prototypes(aus, fine, label):
    emotion = classify_emotion(_aus(*aus))
    assert (emotion.fine, emotion.label) == (fine, label)
    assert emotion.scores[label] == max(emotion.scores.values())
    assert sum(emotion.scores.values()) == pytest.approx(1.0)


def test_unilateral_is_contempt_and_nothing_is_none():
    assert classify_emotion(_aus("AU14", side="right")).fine == "contempt"
    nothing = classify_emotion([AUEvidence("AU12", AU_NAMES["AU12"], 0.1, 0.001, "both", [])])
    assert (nothing.label, nothing.fine, nothing.scores["none"]) == ("none", "none", 1.0)


def test_unmatched_combination_is_others():
    emotion = classify_emotion(_aus("AU2", "AU7", "AU10", "AU15", "AU17"))
    assert emotion.fine == "others"
