"""Speed of `deft explain` with the embedded default checkpoint on this CPU: load, time to first
token, tokens/s and peak memory (targets: TTFT <= 1 s, >= 25 tok/s, peak <= 3 GB).

    python benchmarks/bench_explain.py [--repeats 5] [--tokens 48] [--threads N]

TTFT is measured from the clip's analysis (perception is timed apart) to the first generated token:
experts + projector + prefill of the prompt + one decoding step. Tokens/s is decoding only:
(N - 1) tokens over the time between the first and the N-th token, with N forced by min_new_tokens.
The default model is timed as loaded (float32, LoRA as a separate peft branch: the baseline) and
as deft's inference paths use it (deft.model.inference: LoRA merged, LLM in bfloat16 where the CPU
has native bf16), in the same run; medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deft.analyze import analyze_frames  # noqa: E402
from deft.data.synthetic import SyntheticSpec, render  # noqa: E402
from deft.explain import QUESTIONS  # noqa: E402
from deft.model.batch import collate  # noqa: E402
from deft.model.features import clip_features  # noqa: E402
from deft.model.inference import inference_dtype, prepare_for_inference  # noqa: E402
from deft.video import Video  # noqa: E402

TARGET_TTFT_S, TARGET_TOK_S, TARGET_PEAK_GB = 1.0, 25.0, 3.0


def peak_rss_gb() -> float:
    """VmHWM: the process's peak resident memory so far."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


class FirstTokenClock:
    """A generate() streamer that notes when each new token arrives (the prompt's put is skipped)."""

    def __init__(self):
        self.times: list[float] = []
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # generate() first puts the prompt ids (empty with inputs_embeds)
            self.prompt_seen = True
            return
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


def time_generation(model, batch: dict, question: str, tokens: int) -> tuple[float, float]:
    """(seconds to first token, decoding tokens/s) for one greedy answer of exactly `tokens` tokens."""
    from deft.model.prompt import stop_ids

    clock = FirstTokenClock()
    start = time.perf_counter()
    with torch.no_grad():
        embeds = model.prompt_embeds(batch, question)[None]
        model.llm.generate(inputs_embeds=embeds, attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long),
                           max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False, streamer=clock,
                           eos_token_id=stop_ids(model.tokenizer), pad_token_id=model.tokenizer.pad_token_id)
    ttft = clock.times[0] - start
    rate = (len(clock.times) - 1) / (clock.times[-1] - clock.times[0])
    return ttft, rate


def measure(model, batch: dict, repeats: int, tokens: int) -> tuple[float, float]:
    time_generation(model, batch, QUESTIONS[0], tokens)  # warm-up
    runs = [time_generation(model, batch, QUESTIONS[i % 2], tokens) for i in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}; baseline RSS {peak_rss_gb():.2f} GB")

    from deft.explain import DEFAULT_MODEL
    from deft.model.deft import DeftModel

    start = time.perf_counter()
    model = DeftModel.from_pretrained(DEFAULT_MODEL)
    print(f"load default checkpoint (backbone already converted): {time.perf_counter() - start:.1f} s")

    clip = render(SyntheticSpec(face="astronaut", aus=(("AU6", 2.0), ("AU12", 2.5)), seed=5))
    start = time.perf_counter()
    analysis = analyze_frames(Video(clip.frames, 30.0, "bench", "synthetic", (256, 256)))
    batch = collate([clip_features(analysis)])
    print(f"perception (analyze + expert inputs), not in TTFT: {time.perf_counter() - start:.2f} s")

    ttft, rate = measure(model, batch, args.repeats, args.tokens)
    print(f"baseline (float32, LoRA as a peft branch): TTFT {ttft:.3f} s, decoding {rate:.1f} tok/s")
    dtype = inference_dtype()
    prepare_for_inference(model, dtype)
    m_ttft, m_rate = measure(model, batch, args.repeats, args.tokens)
    print(f"inference path (LoRA merged, {str(dtype).removeprefix('torch.')}): TTFT {m_ttft:.3f} s, "
          f"decoding {m_rate:.1f} tok/s ({m_rate / rate:.2f}x the baseline)")
    peak = peak_rss_gb()
    print(f"peak RSS: {peak:.2f} GB")
    print(f"targets: TTFT <= {TARGET_TTFT_S} s {verdict(m_ttft <= TARGET_TTFT_S)} ({m_ttft:.3f}); "
          f">= {TARGET_TOK_S:.0f} tok/s {verdict(m_rate >= TARGET_TOK_S)} ({m_rate:.1f}); "
          f"peak <= {TARGET_PEAK_GB} GB {verdict(peak <= TARGET_PEAK_GB)} ({peak:.2f})")


if __name__ == "__main__":
    main()
