"""The deft agent and its LangChain tools: routing by intent offline, real tools on real clips."""

import json

import pytest

from deft.agent import DeftAgent, _compose, route
from deft.tools.langchain_tools import analyze_clip, deft_tools


def test_every_tool_is_documented_and_typed():
    tools = deft_tools()
    names = {t.name for t in tools}
    assert {"analyze_clip", "explain_clip", "identify_face", "manipulation_check", "text_context", "static_expression",
            "dynamic_expression"} <= names
    for t in tools:
        assert len(t.description) > 60, t.name
        assert all("type" in spec for spec in t.args.values()), t.name


@pytest.mark.parametrize("question, tools", [
    ("Who is this person?", ["identify_face"]),
    ("Is there a beauty filter on this face?", ["manipulation_check"]),
    ("Which muscles moved and why?", ["analyze_clip", "explain_clip"]),
    ("Hello", ["analyze_clip", "explain_clip"]),
])
def test_route_by_intent(question, tools):
    assert route(question) == tools


def test_routed_answer_restates_the_measurements(happy_mp4):
    agent = DeftAgent(tools=[analyze_clip])
    answer = agent.ask("What emotion does this face show?", video=happy_mp4)
    assert answer.mode == "routed" and "Routed by intent" in answer.text
    assert [c["tool"] for c in answer.calls] == ["analyze_clip"]
    assert "AU6" in answer.text and "AU12" in answer.text and "positive (happiness)" in answer.text


def test_the_answer_says_when_the_reading_is_unreliable_or_inconclusive():
    out = {"aus": [], "emotion": {"label": "none", "fine": "none"}, "phases": {"onset": 3, "apex": 29, "offset": 41},
           "reliable": False, "reliable_reason": "head turned 9° in depth", "inconclusive": True,
           "inconclusive_reason": "an expression may have been missed"}
    text = _compose([{"tool": "analyze_clip", "output": json.dumps(out)}])
    assert "Not reliable: head turned 9° in depth" in text and "Inconclusive: an expression may have been missed" in text
    sure = _compose([{"tool": "analyze_clip", "output": json.dumps({**out, "reliable": True, "inconclusive": False})}])
    assert "reliable" not in sure.lower() and "Inconclusive" not in sure


def test_tool_errors_come_back_as_words(tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"junk")
    out = json.loads(analyze_clip.invoke({"video_path": str(tmp_path / "x.mp4")}))
    assert "not a readable video" in out["error"]
    agent = DeftAgent(tools=[analyze_clip])
    assert "needs video_path" in agent.ask("what moved?").text
