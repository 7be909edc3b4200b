"""Where deft cannot tell (inconclusive), no output reads as "certainly no expression"."""

import json
from types import SimpleNamespace

import pytest

from deft.agent import _compose
from deft.emotion import classify_emotion, undetermined
from deft.instruct.faithful import ClipFacts, caveat, check, claims
from deft.instruct.world_source import emotion_disagreement
from deft.instruct.facts import ClipLabels
from deft.labels import COMPOSITE_LABELS, NONE, UNDETERMINED, said_emotion
from deft.long.report import _interval_line
from deft.plot import curve_title

REASON = "no expression AU was found, but in this clip most expression AUs could not have been reported"


def test_an_undetermined_emotion_keeps_its_keys_but_claims_no_class():
    sure = classify_emotion([])
    assert sure.scores[NONE] == 1.0 and not sure.inconclusive and sure.describe() == "none (none)"
    unsure = undetermined(sure)
    out = unsure.to_dict()
    assert {"label", "fine", "scores"} <= set(out) and out["inconclusive"] is True
    assert (out["label"], out["fine"]) == (NONE, NONE)  # the benchmarks and builders compare it with the truth
    assert set(out["scores"]) == set(COMPOSITE_LABELS) and len(set(out["scores"].values())) == 1
    assert max(out["scores"].values()) < 0.5  # no label, `none` included, is claimed
    assert unsure.describe().startswith(UNDETERMINED) and "none" not in unsure.describe()
    assert sure.to_dict()["inconclusive"] is False


def _analysis(inconclusive: bool) -> dict:
    emotion = (undetermined if inconclusive else lambda e: e)(classify_emotion([])).to_dict()
    return {"aus": [], "regions": [], "emotion": emotion, "phases": {"onset": 3, "apex": 29, "offset": 41},
            "inconclusive": inconclusive, "inconclusive_reason": REASON if inconclusive else ""}


def test_an_answer_may_not_call_an_inconclusive_clip_neutral():
    text = "The face stays neutral (none)."
    assert all(c.fact for c in claims(text, ClipFacts.from_analysis(_analysis(False))) if c.kind == "emotion")
    facts = ClipFacts.from_analysis(_analysis(True))
    said = [c for c in claims(text, facts) if c.kind == "emotion"]
    assert said and all(c.fact is None for c in said)
    assert check(text, facts, final=True).fix is None  # there is no label to write in instead
    assert caveat(facts).startswith("deft cannot tell")
    assert [c.fact for c in claims("The scores are 25% each.", facts)] == [None]  # equal scores: not measured
    # the emotion block alone (a long video's interval carries no top-level key) says it too
    assert ClipFacts.from_analysis({**_analysis(True), "inconclusive": False}).inconclusive


def test_short_displays_and_the_agent_say_cannot_tell():
    unsure, sure = _analysis(True)["emotion"], _analysis(False)["emotion"]
    assert said_emotion(unsure) == UNDETERMINED and said_emotion(sure) == NONE
    assert said_emotion(None, missing="not analysed") == "not analysed"
    assert said_emotion({"label": None, "fine": "others"}, "label") == "no MEGC class"
    line = _interval_line({"onset": 3, "offset": 41, "apex": 29, "kind": "micro", "aus": [], "emotion": unsure}, 30.0)
    assert line.rstrip().endswith(UNDETERMINED)
    out = {"aus": [], "emotion": unsure, "phases": {"onset": 3, "apex": 29, "offset": 41}, "reliable": True,
           "inconclusive": True, "inconclusive_reason": REASON}
    text = _compose([{"tool": "analyze_clip", "output": json.dumps(out)}])
    assert f"Emotion: {UNDETERMINED}" in text and "none (none)" not in text


def test_the_world_builder_leaves_out_clips_deft_cannot_tell():
    labels = ClipLabels(set(), NONE, NONE)
    sure, unsure = classify_emotion([]), undetermined(classify_emotion([]))
    assert emotion_disagreement(SimpleNamespace(emotion=sure), labels) == []
    assert "cannot tell" in emotion_disagreement(SimpleNamespace(emotion=unsure), labels)[0]


def test_the_curve_title_says_what_deft_knows():
    unsure = SimpleNamespace(emotion=undetermined(classify_emotion([])), aus=[])
    title = curve_title(unsure)
    assert UNDETERMINED in title and "none (none)" not in title and "no expression AU" in title
    fired = SimpleNamespace(emotion=classify_emotion([]), aus=["AU12"])
    assert curve_title(fired) == "emotion: none (none)"


@pytest.mark.slow
def test_the_hard_clip_reads_honestly(tmp_path):
    """Issue 18's hard clip: head turn, speech, a wink and two blinks, eyes 30 px apart, CRF 30, no expression."""
    from deft.analyze import analyze
    from deft.cli import main
    from deft.explain import explain_analysis
    from deft.report import format_table

    path = str(tmp_path / "hard.mp4")
    assert main(["synth", path, "--face", "astronaut-dark", "--emotion", "none", "--pose", "--speech", "--blinks",
                 "--iod", "30", "--crf", "30", "--seed", "5"]) == 0
    result = analyze(path)
    out = result.to_dict()
    assert out["inconclusive"] and out["emotion"]["inconclusive"] and out["emotion"]["scores"][NONE] < 0.5
    table = format_table(result)
    assert f"emotion: {UNDETERMINED}" in table and "emotion: none" not in table
    assert UNDETERMINED in curve_title(result)
    # the right eye's wink (frames 3-13) is not stated as a blink (it was "blink 6-9"): a right wink or unsure
    lids = [e for e in result.ordinary.events if e.onset <= 13 and e.offset >= 3 and e.kind in ("blink", "wink")]
    assert lids and all(e.side == "right" if e.kind == "wink" else e.said_kind() == "blink or wink" for e in lids)
    assert "blink 6-9" not in table
    # region pixels are the crop's, not the video's; "no AU" and the ordinary AUs listed below do not clash
    assert f"{result.quality.iod_px:.1f} in the video" in table and "net IOD" in table
    assert "the AUs of ordinary motion are listed apart" in table
    text = explain_analysis(result)  # no model call: nothing expressive to explain
    assert text.startswith("deft cannot tell") and "no expression" not in text.lower().replace("no expression au", "")
