"""deft's analysis and the classical recognizers as standard LangChain tools (typed args, docstrings)."""

from __future__ import annotations

import json

from langchain_core.tools import BaseTool, tool

from deft.errors import DeftError


def _safe(fn):
    """Tools answer errors in words (a DeftError names the problem) instead of raising into the agent."""

    def wrapper(*args, **kwargs) -> str:
        try:
            return fn(*args, **kwargs)
        except DeftError as err:
            return json.dumps({"error": str(err)})

    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
    wrapper.__annotations__ = fn.__annotations__
    return wrapper


@tool
def analyze_clip(video_path: str) -> str:
    """Measure a facial micro-expression in a video file of one face.

    Returns JSON with the phases (onset/apex/offset frame numbers), the Action Units that moved (each
    with confidence and the facial regions whose motion supports it), the emotion (composite
    positive/negative/surprise/none plus a finer label), the motion of each facial region, whether the
    reading is reliable (and why not), and `inconclusive` when no AU was found where one could have been missed.
    Use it for any question about what a face in a clip did.
    """
    return _safe(_analyze)(video_path)


def _analyze(video_path: str) -> str:
    from deft.analyze import analyze

    d = analyze(video_path).to_dict()
    regions = sorted(d["regions"], key=lambda r: -r["mean_iod"])[:6]
    return json.dumps({"phases": d["phases"], "aus": d["aus"], "emotion": d["emotion"],
                       "top_regions": [{k: r[k] for k in ("name", "direction", "lateral", "mean_magnitude")} for r in regions],
                       "warnings": d["warnings"], "reliable": d["reliable"], "reliable_reason": d["reliable_reason"],
                       "inconclusive": d.get("inconclusive", False), "inconclusive_reason": d.get("inconclusive_reason", "")})


@tool
def explain_clip(video_path: str) -> str:
    """Explain in words, with the DEFT model, which facial muscles moved in a video clip and what emotion that signals.

    Returns JSON with the explanation text and the measured Action Units it should agree with.
    """
    return _safe(_explain)(video_path)


def _explain(video_path: str) -> str:
    from deft.explain import explain

    result = explain(video_path)
    return json.dumps({"explanation": result.text, "aus": [a.au for a in result.analysis.aus],
                       "emotion": result.analysis.emotion.label,
                       "inconclusive": result.analysis.emotion.inconclusive})


def deft_tools() -> list[BaseTool]:
    """Every tool the deft agent can call."""
    from deft.tools.recognizer_tools import recognizer_tools

    return [analyze_clip, explain_clip, *recognizer_tools()]
