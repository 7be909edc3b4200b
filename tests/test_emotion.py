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


def test_an_ordinary_au_alone_is_no_emotion_and_matched_names_only_fired_aus():
    """Dev clip big1777/all/clip023 (speech, head turn, blinks; truth none): AU25 alone fired, and AU1 and AU2
    under their thresholds filled the surprise prototype (surprise .55)."""
    brows = [AUEvidence(au, AU_NAMES[au], 0.6, 0.01, "both", ["x"], threshold=0.8) for au in ("AU1", "AU2")]
    assert not any(a.fired for a in brows)
    talking = classify_emotion(_aus("AU25") + brows)
    assert (talking.label, talking.fine, talking.scores["none"], talking.matched) == ("none", "none", 1.0, [])
    assert classify_emotion(_aus("AU25"), support=frozenset({"AU26"})).label == "none"
    brow_only = classify_emotion(_aus("AU1") + brows[1:] + _aus("AU25"))
    assert brow_only.fine == "surprise" and brow_only.matched == ["AU1", "AU25"]  # AU2 did not fire


def test_unmatched_combination_is_others():
    emotion = classify_emotion(_aus("AU2", "AU7", "AU10", "AU15", "AU17"))
    assert emotion.fine == "others"
