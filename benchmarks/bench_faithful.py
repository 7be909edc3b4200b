"""Faithfulness of the default checkpoint's answers, checked (deft.model.guard) against today's decoder, on
held-apart realistic world clips: every claim (AU, FACS name, region, direction, px, IOD, frame, emotion)
against the clip's own `deft analyze` result, named-AU coverage, TTFT and tokens/s; then free-form chat.

    python benchmarks/bench_faithful.py [--clips 100] [--sets clean,compression,lowres,blinks] [--compare 10]
                                        [--chat 30] [--threads N]

Clips are world_set specs with seeds none of deft's sets or trainings use (HELD_APART_SEED + i), identities
cycled over all of them. Both decoders answer deft explain's two questions on the first `--compare` clips
(same run, same clips: the speed and faithfulness comparison); the rest only checked. `--chat` free-form
questions (CHAT, some asking for what did not happen), one per clip, are checked the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_explain import TokenClock  # noqa: E402

from deft.analyze import analyze_frames  # noqa: E402
from deft.data.world.clips import render_clip, world_set  # noqa: E402
from deft.errors import DeftError  # noqa: E402
from deft.instruct.faithful import ClipFacts, caveat, claims  # noqa: E402
from deft.labels import DEFAULT_QUESTIONS, EMOTION_QUESTION  # noqa: E402
from deft.model.batch import collate  # noqa: E402
from deft.model.features import clip_features  # noqa: E402
from deft.video import Video  # noqa: E402

HELD_APART_SEED = 7_000_000  # world_set uses 1900_000-1906_039; trainings use their own generators
MAX_NEW_TOKENS = 120  # as deft explain
CHAT = (
    "Did the brows lower (AU4)?", "Which muscles moved, and where?", "When does the motion start and peak?",
    "Which regions moved and in which direction?", "Is this surprise?", "How large was the motion, in pixels?",
    "Was there any movement around the mouth?", "Describe the expression in one sentence.",
    "Which side of the face moved more?", "What does AU12 mean here?",
)


@dataclasses.dataclass
class Answer:
    text: str
    ttft: float
    decoded: int
    decode_s: float


def ask(model, batch, question: str, facts: ClipFacts | None) -> Answer:
    clock = TokenClock()
    start = time.perf_counter()
    text = model.generate(batch, question, MAX_NEW_TOKENS, streamer=clock, facts=facts)
    if not clock.steps:
        return Answer(text, float("nan"), 0, 0.0)
    (first, n_first), last = clock.steps[0], clock.steps[-1][0]
    return Answer(text, first - start, sum(n for _, n in clock.steps) - n_first, last - first)


class Tally:
    """Claims per kind (backed / all), named-AU coverage, emotion stated = the analysis' label."""

    def __init__(self):
        self.backed, self.total = Counter(), Counter()
        self.fired = self.covered = self.emotion_asked = self.emotion_said = 0
        self.unbacked: list[str] = []

    def add(self, text: str, facts: ClipFacts, question: str, cover: bool) -> None:
        for c in claims(text, facts):
            self.total[c.kind] += 1
            self.backed[c.kind] += c.fact is not None
            if c.fact is None and len(self.unbacked) < 12:
                self.unbacked.append(f"{c.kind} {c.text!r}")
        if cover:
            named = {c.fact["au"] for c in claims(text, facts) if c.kind == "au" and c.fact}
            self.fired += len(facts.aus)
            self.covered += len(named & set(facts.aus))
        if question == EMOTION_QUESTION and facts.expressive:
            self.emotion_asked += 1
            said = {c.text.lower() for c in claims(text, facts) if c.kind == "emotion" and c.fact}
            self.emotion_said += bool(said)

    def report(self, name: str) -> None:
        kinds = " ".join(f"{k} {self.backed[k]}/{self.total[k]}" for k in sorted(self.total))
        allb, allt = sum(self.backed.values()), sum(self.total.values())
        print(f"{name}: claims backed {allb}/{allt} ({allb / max(allt, 1):.3f}); {kinds}")
        if self.fired:
            print(f"  named-AU coverage {self.covered}/{self.fired} ({self.covered / self.fired:.3f})")
        if self.emotion_asked:
            print(f"  emotion answers stating the analysis' label: {self.emotion_said}/{self.emotion_asked}")
        if self.unbacked:
            print(f"  unbacked, first ones: {'; '.join(self.unbacked)}")


def speed(answers: list[Answer]) -> str:
    timed = [a for a in answers if a.decoded]
    rate = sum(a.decoded for a in timed) / max(sum(a.decode_s for a in timed), 1e-9)
    return f"TTFT median {statistics.median(a.ttft for a in timed):.3f} s, {rate:.1f} tok/s over {len(timed)} answers"


def clips(sets: list[str], n: int):
    by_set = {name: world_set(name, n) for name in sets}  # clip j from set j mod len(sets): sets and identities mix
    specs = [dataclasses.replace(by_set[sets[j % len(sets)]][j], seed=HELD_APART_SEED + j) for j in range(n)]
    for spec in specs:
        clip = render_clip(spec)
        yield spec, Video(clip.frames, spec.camera.fps, f"world-{spec.seed}", "synthetic", clip.frames.shape[2:0:-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--sets", default="clean,compression,lowres,blinks")
    parser.add_argument("--compare", type=int, default=10, help="clips answered by both decoders")
    parser.add_argument("--chat", type=int, default=30, help="free-form questions, checked")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from deft.explain import load_model

    start = time.perf_counter()
    model = load_model()
    print(f"model load {time.perf_counter() - start:.1f} s; torch threads {torch.get_num_threads()}")
    checked, free, chat = Tally(), Tally(), Tally()
    timing = {"checked": [], "today": []}
    asked, identities, done, refused, still = 0, set(), 0, 0, 0
    try:  # Ctrl-C (or timeout -s INT) ends the run early: what was measured is still reported
        for i, (spec, video) in enumerate(clips(args.sets.split(","), args.clips)):
            try:
                analysis = analyze_frames(video)
            except DeftError:
                refused += 1
                continue
            identities.add(spec.identity)
            facts = ClipFacts.from_analysis(analysis.to_dict())
            batch = collate([clip_features(analysis)])
            done += 1
            if not facts.expressive:
                still += 1  # deft explain says so plainly (caveat) and asks the model nothing
                checked.add(caveat(facts) or "", facts, "", cover=False)
                continue
            for q in DEFAULT_QUESTIONS:
                a = ask(model, batch, q, facts)
                checked.add(a.text, facts, q, cover=True)
                timing["checked"].append(a)
                if i < args.compare:
                    b = ask(model, batch, q, None)
                    free.add(b.text, facts, q, cover=True)
                    timing["today"].append(b)
            if asked < args.chat:  # one free-form question per clip, cycling through CHAT
                q, asked = CHAT[asked % len(CHAT)], asked + 1
                chat.add(ask(model, batch, q, facts).text, facts, q, cover=False)
            print(f"  clip {i + 1}: {spec.identity}, {len(facts.aus)} AUs fired", flush=True)
    except KeyboardInterrupt:
        print("stopped early")
    print(f"{done} clips analysed ({refused} refused, {still} with no expression AU), {len(identities)} identities, "
          f"sets {args.sets}, seeds from {HELD_APART_SEED}")
    checked.report("checked decoding (deft explain)")
    if timing["today"]:
        free.report(f"today's decoder, first {args.compare} clips")
        print(f"speed, same clips and run: checked {speed(timing['checked'][:len(timing['today'])])}; "
              f"today {speed(timing['today'])}")
    print(f"speed, all checked answers: {speed(timing['checked'])}")
    chat.report("free-form chat, checked")


if __name__ == "__main__":
    main()
