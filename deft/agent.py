"""The deft agent: answers questions about a clip by calling deft's tools.

With a tool-calling chat model (e.g. ChatOpenAI pointed at any OpenAI-compatible server that supports
tools) it runs the standard tool-calling loop. The embedded default (Gemma 3 270M, a small base
model) cannot call tools reliably, so without such a model the agent routes the question by intent
to the right tools and composes the answer from their outputs, and says that it did so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool

from deft.labels import describe_emotion
from deft.tools.langchain_tools import deft_tools

# intent -> (tool names, trigger words); checked in order, several may apply
INTENTS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("identity", ("identify_face",), ("who", "identity", "identify", "same person", "recogni", "gallery", "enrol")),
    ("manipulation", ("manipulation_check",), ("filter", "fake", "manipulat", "edited", "beauty", "splice", "retouch", "genuine")),
    ("context", ("text_context",), ("said", "say", "utterance", "words", "sentence", "conversation", "context")),
    ("expression", ("analyze_clip", "explain_clip"), ("emotion", "feel", "expression", "muscle", "au", "action unit",
                                                       "move", "why", "explain", "what happened", "micro")),
)
MAX_TOOL_ROUNDS = 4
ARG_SOURCES = {"video": ("video",), "image": ("image", "video"), "text": ("text",)}
SYSTEM = ("You answer questions about facial micro-expressions in video clips. Call the tools to measure; state only "
          "what their outputs support, naming Action Units and facial regions as they report them.")


@dataclass
class AgentAnswer:
    text: str
    calls: list[dict] = field(default_factory=list)  # {"tool", "args", "output"}
    mode: str = "routed"  # "routed" (by intent) | "tool-calling"


def route(question: str) -> list[str]:
    """Tool names the question asks for, by intent words; clip analysis when nothing else matches."""
    q = question.lower()
    names = [t for _, tools, words in INTENTS if any(re.search(rf"\b{re.escape(w)}", q) for w in words) for t in tools]
    return list(dict.fromkeys(names)) or ["analyze_clip", "explain_clip"]


def _compose(calls: list[dict]) -> str:
    """A plain answer from tool outputs: every sentence restates a tool's measured output."""
    parts = []
    for call in calls:
        try:
            out = json.loads(call["output"])
        except (json.JSONDecodeError, TypeError):
            parts.append(f"{call['tool']}: {call['output']}")
            continue
        if "error" in out:
            parts.append(f"{call['tool']} could not answer: {out['error']}")
        elif call["tool"] == "analyze_clip":
            aus = "; ".join(f"{a['au']} ({a['name']}, {', '.join(a['evidence'])})" for a in out["aus"]) or "no Action Unit"
            e = out["emotion"]
            parts.append(f"Measured: {aus}. Emotion: {describe_emotion(e['label'], e['fine'], e.get('inconclusive', False))}. Phases: onset {out['phases']['onset']}, "
                         f"apex {out['phases']['apex']}, offset {out['phases']['offset']}."
                         + ("" if out.get("reliable", True) else f" Not reliable: {out.get('reliable_reason')}.")
                         + (f" Inconclusive: {out['inconclusive_reason']}." if out.get("inconclusive") else ""))
        elif call["tool"] == "explain_clip":
            parts.append(f"The DEFT model explains: {out['explanation']}")
        else:
            parts.append(f"{call['tool']}: {json.dumps(out)}")
    return " ".join(parts)


class DeftAgent:
    def __init__(self, chat_model=None, tools: list[BaseTool] | None = None):
        self.tools = {t.name: t for t in (tools if tools is not None else deft_tools())}
        self.chat_model = chat_model

    def _args(self, name: str, files: dict[str, str]) -> dict:
        """Fill a routed tool's arguments from what the user gave, by argument name (a clip serves as an image)."""
        args = {}
        for arg in self.tools[name].args:
            for kind, sources in ARG_SOURCES.items():
                given = [files[s] for s in sources if s in files]
                if kind in arg and given:
                    args[arg] = given[0]
        return args

    def ask(self, question: str, video: str | None = None, image: str | None = None, text: str | None = None) -> AgentAnswer:
        files = {k: v for k, v in (("video", video), ("image", image), ("text", text)) if v}
        if self.chat_model is not None and hasattr(self.chat_model, "bind_tools"):
            return self._tool_loop(question, files)
        calls = []
        for name in route(question):
            if name not in self.tools:
                continue
            args = self._args(name, files)
            missing = [a for a in self.tools[name].args if a not in args and "default" not in self.tools[name].args[a]]
            if missing:
                calls.append({"tool": name, "args": args, "output": json.dumps({"error": f"needs {', '.join(missing)}"})})
                continue
            calls.append({"tool": name, "args": args, "output": self.tools[name].invoke(args)})
        note = "(Routed by intent: the embedded 270M model cannot call tools itself.) "
        return AgentAnswer(note + _compose(calls), calls, "routed")

    def _tool_loop(self, question: str, files: dict[str, str]) -> AgentAnswer:
        model = self.chat_model.bind_tools(list(self.tools.values()))
        given = "; ".join(f"{k}: {v}" for k, v in files.items())
        messages = [SystemMessage(SYSTEM), HumanMessage(f"{question}\n({given})" if given else question)]
        calls = []
        for _ in range(MAX_TOOL_ROUNDS):
            ai = model.invoke(messages)
            messages.append(ai)
            if not ai.tool_calls:
                return AgentAnswer(str(ai.content), calls, "tool-calling")
            for call in ai.tool_calls:
                tool = self.tools.get(call["name"])
                output = tool.invoke(call["args"]) if tool else json.dumps({"error": f"no tool {call['name']}"})
                calls.append({"tool": call["name"], "args": call["args"], "output": output})
                messages.append(ToolMessage(output, tool_call_id=call["id"]))
        return AgentAnswer(_compose(calls), calls, "tool-calling")
