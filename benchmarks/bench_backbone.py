"""Benchmark the LLM backbone on this machine's CPU: load, generation and LoRA training-step speed.

    python benchmarks/bench_backbone.py [--backbone FOLDER] [--convert] [--repeats 3]

Prints medians. --convert also times a fresh GGUF -> safetensors conversion of the packaged
Gemma 3 270M into a temporary DEFT_HOME (a few minutes; the cached folder is left alone).
The training step is LoRA r=8 on q/k/v/o projections, batch 1, 192 tokens, the loss on the last 48
("answer") tokens, computed two ways: from the full logits (192 x 262k) and from logits at the answer
positions only (hidden states of the inner transformer, then lm_head on those positions).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deft.model import backbone  # noqa: E402

SEQ, ANSWER, NEW_TOKENS = 192, 48, 64


def timed(fn, repeats: int, warmup: int = 1) -> float:
    """Median seconds of `repeats` calls of fn after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_convert() -> float:
    """Seconds for one fresh conversion into a throwaway DEFT_HOME."""
    old = os.environ.get("DEFT_HOME")
    with tempfile.TemporaryDirectory() as home:
        os.environ["DEFT_HOME"] = home
        try:
            start = time.perf_counter()
            backbone.default_backbone_dir()
            return time.perf_counter() - start
        finally:
            if old is None:
                del os.environ["DEFT_HOME"]
            else:
                os.environ["DEFT_HOME"] = old


def bench_generate(model, tokenizer, repeats: int) -> float:
    """Greedy tokens/s for NEW_TOKENS new tokens after a short prompt."""
    ids = tokenizer("Facial micro-expressions are brief, involuntary movements that", return_tensors="pt")

    @torch.no_grad()
    def run():
        out = model.generate(**ids, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
        assert out.shape[1] - ids["input_ids"].shape[1] == NEW_TOKENS

    return NEW_TOKENS / timed(run, repeats)


def bench_lora_step(model, repeats: int) -> tuple[float, float]:
    """(samples/s with full logits, samples/s with answer-only logits) for a LoRA r=8 step."""
    from peft import LoraConfig, get_peft_model

    lora = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, task_type="CAUSAL_LM",
                                            target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    lora.train()
    trainable = sum(p.numel() for p in lora.parameters() if p.requires_grad)
    print(f"LoRA trainable parameters: {trainable:,}")
    optimiser = torch.optim.AdamW([p for p in lora.parameters() if p.requires_grad], lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, model.config.vocab_size, (1, SEQ), generator=generator)
    targets = ids[0, SEQ - ANSWER:]
    base = lora.get_base_model()

    def full_logits() -> torch.Tensor:
        logits = lora(input_ids=ids).logits[0, SEQ - ANSWER - 1: SEQ - 1]  # all SEQ positions computed
        return F.cross_entropy(logits.float(), targets)

    def answer_logits() -> torch.Tensor:
        hidden = base.model(input_ids=ids).last_hidden_state  # (1, SEQ, H): the inner transformer only
        logits = base.lm_head(hidden[0, SEQ - ANSWER - 1: SEQ - 1])  # position t predicts token t + 1
        cap = getattr(base.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return F.cross_entropy(logits.float(), targets)

    def step(loss_fn):
        def run():
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn()
            loss.backward()
            optimiser.step()
        return run

    with torch.no_grad():  # both ways give the same loss
        assert torch.allclose(full_logits(), answer_logits(), atol=1e-4)
    full = 1.0 / timed(step(full_logits), repeats)
    answer = 1.0 / timed(step(answer_logits), repeats)
    return full, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default=None, help="HF causal-LM folder; default: the packaged Gemma 3 270M")
    parser.add_argument("--convert", action="store_true", help="also time a fresh GGUF conversion (minutes)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} (other processes slow every number below)")
    if args.convert:
        print(f"conversion GGUF -> safetensors folder: {bench_convert():.1f} s")
    folder = backbone.resolve_backbone(args.backbone)  # converts the default first if needed
    loads = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model, tokenizer = backbone.load_backbone(str(folder))
        loads.append(time.perf_counter() - start)
    print(f"load from {folder}: {statistics.median(loads):.1f} s (median of {args.repeats})")
    params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {params:,}; vocab: {model.config.vocab_size:,} (tokenizer {len(tokenizer):,}); "
          f"hidden size: {model.config.hidden_size}; layers: {model.config.num_hidden_layers}; "
          f"dtype: {next(model.parameters()).dtype}")
    print(f"greedy generation, {NEW_TOKENS} new tokens: {bench_generate(model, tokenizer, args.repeats):.1f} tok/s")
    full, answer = bench_lora_step(model, args.repeats)
    print(f"LoRA step, batch 1, {SEQ} tokens, full logits: {full:.2f} samples/s ({1 / full:.2f} s/step)")
    print(f"LoRA step, batch 1, {SEQ} tokens, logits on last {ANSWER} only: {answer:.2f} samples/s "
          f"({1 / answer:.2f} s/step, x{answer / full:.2f})")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
