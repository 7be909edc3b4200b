"""`deft explain`: the analysis of a clip plus the DEFT model's explanation in words."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from deft.analyze import Analysis, AnalyzeConfig, analyze
from deft.errors import ConfigError
from deft.instruct.faithful import ClipFacts, caveat, claims, summary
from deft.labels import DEFAULT_QUESTIONS

DEFAULT_MODEL = Path(__file__).parent / "checkpoints" / "default"


@dataclass
class Explanation:
    analysis: Analysis
    text: str
    model: str

    def to_dict(self) -> dict:
        data = self.analysis.to_dict()
        return {**data, "explanation": self.text, "model": self.model,
                "claims": [c.to_dict() for c in claims(self.text, ClipFacts.from_analysis(data))]}


@lru_cache(maxsize=2)
def load_model(path: str | None = None):
    """The DEFT model at `path`, or the embedded default checkpoint, ready to answer (LoRA merged,
    the LLM in bfloat16 where the CPU/GPU computes it natively: see deft.model.inference)."""
    from deft.model.deft import DeftModel
    from deft.model.inference import prepare_for_inference

    folder = Path(path) if path else DEFAULT_MODEL
    if not (folder / "config.json").exists():
        hint = "train one with `deft train` or omit --model" if path else "the embedded checkpoint is missing from this install"
        raise ConfigError(f"{folder}: no deft model here ({hint})")
    return prepare_for_inference(DeftModel.from_pretrained(folder))


def explain_analysis(analysis: Analysis, model_path: str | None = None, max_new_tokens: int = 120, streamer=None) -> str:
    """The model's answers to deft explain's questions, stating only what the analysis measured; a plain
    caveat first when the analysis cannot tell, and no model answer at all when nothing moved."""
    from deft.model.batch import collate
    from deft.model.features import clip_features

    facts = ClipFacts.from_analysis(analysis.to_dict())
    note = caveat(facts)
    if not facts.expressive:
        return note or ""
    model = load_model(model_path)
    batch = collate([clip_features(analysis)])
    answers = [model.generate(batch, q, max_new_tokens, streamer=streamer, facts=facts) for q in DEFAULT_QUESTIONS]
    answers = [a for a in answers if a] or [summary(facts)]  # the template only when the model said nothing
    return " ".join(([note] if note else []) + answers)


def explain(path: str | os.PathLike, model_path: str | None = None, config: AnalyzeConfig = AnalyzeConfig()) -> Explanation:
    analysis = analyze(path, config)
    return Explanation(analysis, explain_analysis(analysis, model_path), str(model_path or DEFAULT_MODEL))


def explain_long(path: str | os.PathLike, model_path: str | None = None, config=None) -> list[dict]:
    """A long video (deft.long): one dict per spotted interval (source, face_id, the interval's analysis and
    the model's explanation of it), the model loaded once; one dict naming the faces when none was spotted.
    `config`: a deft.long.analyze.LongAnalyzeConfig."""
    from deft.long.analyze import LongAnalyzeConfig, analyze_long

    model = str(model_path or DEFAULT_MODEL)
    result = analyze_long(path, config or LongAnalyzeConfig(),
                          extra=lambda analysis: {"explanation": explain_analysis(analysis, model_path), "model": model})
    lines = [{"source": result.source, "face_id": fid, **interval}
             for fid, intervals in result.intervals.items() for interval in intervals]
    return lines or [{"source": result.source, "faces": [f.face_id for f in result.faces], "intervals": [],
                      "warnings": result.warnings}]
