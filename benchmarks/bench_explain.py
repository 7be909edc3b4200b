"""Speed of `deft explain` with the embedded default checkpoint on this CPU: load, time to first
token, tokens/s and peak memory (targets: TTFT <= 1 s, >= 25 tok/s, peak <= 3 GB).

    python benchmarks/bench_explain.py [--repeats 3] [--threads N] [--folder 20]

The model answers deft explain's questions about three synthetic clips (happiness, surprise,
anger-like AUs), as it would for a user: greedy, up to 120 tokens, ending where the answer ends.
TTFT runs from the clip's analysis (perception is timed apart) to the first generated token:
experts + projector + prefill of the prompt (checked: to the first streamed piece, its first whole
sentence). Tokens/s is decoding only: the tokens after the first piece over the time from the first
piece to the last, summed over all answers of a pass; medians over passes.
Three ways, in the same run: the model as loaded (float32, LoRA as a separate peft branch, one token
per step: the baseline); deft's inference path (deft.model.inference: LoRA merged, LLM in bfloat16
where the CPU has it natively) one token per step; and the same with the checkpoint's n-gram drafts
checked several tokens per step (deft.model.decode); then the same checked against each clip's analysis
(deft.model.guard), which is what `deft explain` runs: its TTFT counts to the first token it streams.
CPU seconds of the process are printed beside each, so a run on a busy machine can be read.
`--folder N` then times `deft explain` as a user runs it (fresh processes, synthetic clips): one clip,
the model load alone, and a folder of N clips (target: <= 2 x (load + N x one clip's share)).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deft.analyze import analyze_frames  # noqa: E402
from deft.data.synthetic import SyntheticSpec, render  # noqa: E402
from deft.instruct.faithful import ClipFacts  # noqa: E402
from deft.labels import DEFAULT_QUESTIONS as QUESTIONS  # noqa: E402
from deft.model.batch import collate  # noqa: E402
from deft.model.features import clip_features  # noqa: E402
from deft.model.inference import inference_dtype, prepare_for_inference  # noqa: E402
from deft.video import Video, write_video  # noqa: E402

TARGET_TTFT_S, TARGET_TOK_S, TARGET_PEAK_GB = 1.0, 25.0, 3.0
MAX_NEW_TOKENS = 120  # as deft explain
CLIPS = (
    SyntheticSpec(aus=(("AU6", 2.0), ("AU12", 2.5)), seed=5),
    SyntheticSpec(aus=(("AU1", 2.0), ("AU2", 2.0)), seed=6),
    SyntheticSpec(aus=(("AU4", 2.0), ("AU7", 1.5)), seed=7),
)


def peak_rss_gb() -> float:
    """VmHWM: the process's peak resident memory so far."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


class TokenClock:
    """A generate() streamer noting when each step's tokens arrive (the prompt's put is skipped)."""

    def __init__(self):
        self.steps: list[tuple[float, int]] = []  # (time, tokens in this put)
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # the prompt ids come first (none: the prompt is embeddings)
            self.prompt_seen = True
            return
        self.steps.append((time.perf_counter(), value.numel()))

    def end(self) -> None:
        pass


@dataclass
class Answer:
    text: str
    ttft: float  # s
    decoded: int  # tokens after the first
    decode_s: float
    steps: int  # LLM passes after the prefill (a rewound pass counts)
    tokens: int  # streamed in all


def answer(model, batch: dict, question: str, speculative: bool, facts: ClipFacts | None = None) -> Answer:
    """One answer, timed by its streamer; LLM passes counted by a forward hook (a checked answer streams
    whole sentences, so its streamer sees fewer pieces than passes)."""
    clock, passes = TokenClock(), []
    hook = model.llm.register_forward_hook(lambda *_: passes.append(1))
    start = time.perf_counter()
    try:
        text = model.generate(batch, question, MAX_NEW_TOKENS, streamer=clock, speculative=speculative, facts=facts)
    finally:
        hook.remove()
    (first, n_first), last = clock.steps[0], clock.steps[-1][0]
    total = sum(n for _, n in clock.steps)
    return Answer(text, first - start, total - n_first, last - first, len(passes) - 1, total)


@dataclass
class Result:
    ttft: float  # median over answers
    tok_s: float  # median over passes of (decoded tokens / decoding seconds)
    tokens_per_step: float
    texts: list[str]
    cpu_s: float  # process CPU seconds over all passes
    wall_s: float


def measure(model, batches: list[dict], repeats: int, speculative: bool, facts: list | None = None) -> Result:
    facts = facts or [None] * len(batches)
    answer(model, batches[0], QUESTIONS[0], speculative, facts[0])  # warm-up
    cpu, wall = time.process_time(), time.perf_counter()
    passes = [[answer(model, b, q, speculative, f) for b, f in zip(batches, facts) for q in QUESTIONS]
              for _ in range(repeats)]
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    rates = [sum(a.decoded for a in p) / sum(a.decode_s for a in p) for p in passes]
    first = passes[0]
    return Result(statistics.median(a.ttft for p in passes for a in p), statistics.median(rates),
                  sum(a.tokens - 1 for a in first) / max(1, sum(a.steps for a in first)), [a.text for a in first],
                  cpu, wall)


def report(name: str, r: Result, base: Result | None = None) -> None:
    ratio = f" ({r.tok_s / base.tok_s:.2f}x the baseline)" if base else ""
    print(f"{name}: TTFT {r.ttft:.3f} s, decoding {r.tok_s:.1f} tok/s{ratio}, {r.tokens_per_step:.2f} tokens per LLM pass; "
          f"{r.cpu_s:.1f} CPU-s over {r.wall_s:.1f} s wall (load {os.getloadavg()[0]:.1f})")


def timed_run(args: list[str]) -> float:
    """Wall seconds of a fresh process (as a user runs it); its stderr is shown when it fails."""
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def folder_speed(n: int) -> None:
    """`deft explain` on one clip, the model load alone, and a folder of n clips, each in a fresh process."""
    aus = (("AU6", 2.0), ("AU12", 2.5)), (("AU1", 2.0), ("AU2", 2.0)), (("AU4", 2.0), ("AU7", 1.5)), (("AU12", 2.5),)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clips"
        folder.mkdir()
        for i in range(n):
            write_video(render(SyntheticSpec(aus=aus[i % len(aus)], seed=900 + i)).frames, folder / f"clip{i:02d}.mp4")
        deft = [sys.executable, "-m", "deft.cli", "explain"]
        load = timed_run([sys.executable, "-c", "from deft.explain import load_model; load_model()"])
        one = timed_run([*deft, str(folder / "clip00.mp4"), "--json"])
        before = os.times()
        many = timed_run([*deft, str(folder), "--json"])
        child_cpu = sum(os.times()[2:4]) - sum(before[2:4])  # the folder run's user + system CPU
    budget = 2 * (load + n * (one - load))
    print(f"deft explain, fresh processes: model load {load:.1f} s, one clip {one:.1f} s (so {one - load:.1f} s per clip), "
          f"a folder of {n} clips {many:.1f} s ({child_cpu:.1f} CPU-s; load {os.getloadavg()[0]:.1f}); target <= 2 x "
          f"(load + {n} x one) = {budget:.1f} s {verdict(many <= budget)}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--folder", type=int, default=0, help="then time deft explain on a folder of N clips")
    parser.add_argument("--folder-only", action="store_true", help="only the folder timing")
    parser.add_argument("--deft-only", action="store_true", help="only deft explain's decoding, unchecked and checked")
    args = parser.parse_args()
    if args.folder_only:
        return folder_speed(args.folder or 20)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}; baseline RSS {peak_rss_gb():.2f} GB")

    from deft.explain import DEFAULT_MODEL
    from deft.model.deft import DeftModel

    start = time.perf_counter()
    model = DeftModel.from_pretrained(DEFAULT_MODEL)
    print(f"load default checkpoint (backbone already converted): {time.perf_counter() - start:.1f} s; "
          f"draft table: {len(model.drafts or [])} contexts")

    start = time.perf_counter()
    batches, facts = [], []
    for spec in CLIPS:
        clip = render(spec)
        analysis = analyze_frames(Video(clip.frames, 30.0, "bench", "synthetic", (256, 256)))
        batches.append(collate([clip_features(analysis)]))
        facts.append(ClipFacts.from_analysis(analysis.to_dict()))
    print(f"perception (analyze + expert inputs) of {len(CLIPS)} clips, not in TTFT: {time.perf_counter() - start:.2f} s")
    print(f"{len(CLIPS)} clips x {len(QUESTIONS)} questions per pass, {args.repeats} passes; medians")

    base = None if args.deft_only else measure(model, batches, args.repeats, speculative=False)
    if base:
        report("baseline (float32, LoRA as a peft branch, one token per pass)", base)
    dtype = str(inference_dtype()).removeprefix("torch.")
    prepare_for_inference(model)
    plain = None if args.deft_only else measure(model, batches, args.repeats, speculative=False)
    if plain:
        report(f"inference path (LoRA merged, {dtype}), one token per pass", plain, base)
    fast = measure(model, batches, args.repeats, speculative=True)
    report("inference path + n-gram drafts (deft explain)", fast, base)
    checked = measure(model, batches, args.repeats, speculative=True, facts=facts)
    report("the same, checked against each clip's analysis (deft explain; TTFT to the first token streamed)",
           checked, base)
    changed = sum(a != b for a, b in zip(fast.texts, checked.texts))
    print(f"answers the check changed: {changed} of {len(fast.texts)}")
    same = sum(a == b for a, b in zip(plain.texts, fast.texts)) if plain else len(fast.texts)
    if plain:
        print(f"answers identical with and without drafts: {same} of {len(fast.texts)}"
              + ("" if same == len(fast.texts) else f" ({dtype} rounds a batched check differently at near-ties)"))
    peak = peak_rss_gb()
    print(f"peak RSS: {peak:.2f} GB")
    print(f"targets (checked): TTFT <= {TARGET_TTFT_S} s {verdict(checked.ttft <= TARGET_TTFT_S)} ({checked.ttft:.3f}); "
          f">= {TARGET_TOK_S:.0f} tok/s {verdict(checked.tok_s >= TARGET_TOK_S)} ({checked.tok_s:.1f}); "
          f"peak <= {TARGET_PEAK_GB} GB {verdict(peak <= TARGET_PEAK_GB)} ({peak:.2f})")
    if args.folder:
        folder_speed(args.folder)


if __name__ == "__main__":
    main()
