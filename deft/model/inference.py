"""Ready a trained DeftModel for answering: LoRA folded into the weights, the LLM in a fast dtype.

Decoding a 270M model on a CPU is memory-bound: every token reads all weights (the 262k-row LM
head alone is 0.67 GB in float32). bfloat16 halves that traffic at the same held-apart text scores
(README, "Measured"). CPUs without native bf16 arithmetic (no AVX512-BF16 or AMX) would emulate it
slower than float32, so they keep float32. DeftModel.generate then drafts tokens from the
checkpoint's training answers and checks several per pass (deft.model.decode; speed:
benchmarks/bench_explain.py).
"""

from __future__ import annotations

import os

import torch

from deft.errors import ConfigError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def inference_dtype() -> torch.dtype:
    """bfloat16 where the hardware computes it natively, else float32; DEFT_DTYPE overrides."""
    name = os.environ.get("DEFT_DTYPE")
    if name:
        if name not in DTYPES:
            raise ConfigError(f"DEFT_DTYPE={name!r}: use one of {', '.join(DTYPES)}")
        return DTYPES[name]
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.bfloat16 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else torch.float32


def prepare_for_inference(model, dtype: torch.dtype | None = None):
    """Merge the LoRA adapter and cast the LLM (experts and projector stay float32); returns `model`."""
    model.merge_lora()
    if model.llm is not None:
        model.llm.to(dtype or inference_dtype())
        head = model.llm.get_output_embeddings()
        if isinstance(head, torch.nn.Linear):
            head.forward = _flat_linear(head)
    return model.eval()


def _flat_linear(head: torch.nn.Linear):
    """The LM head as a 2-D matmul. On a (1, 1, H) input in bfloat16, torch's linear goes through
    bmm and copies the whole 262k x 640 weight first, at every prefill; the same row as (1, H) does not."""
    # measured on 2 cores: 1.4 s a prefill through bmm, 0.04 s as a 2-D matmul

    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(x.reshape(-1, x.shape[-1]), head.weight, head.bias).reshape(*x.shape[:-1], -1)

    return forward
