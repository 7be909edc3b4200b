"""Faithfulness of a checkpoint's answers, checked (deft.model.guard) against today's decoder, on held-apart
realistic world clips: every claim (AU, FACS name, region, direction, px, IOD, frame, emotion) against the
clip's own `deft analyze` result, named-AU coverage, TTFT and tokens/s; then free-form chat.

    python benchmarks/bench_faithful.py [--clips 100] [--first 0] [--sets clean,compression,lowres,blinks]
        [--compare 10] [--chat 30] [--checkpoint DIR] [--cache DIR] [--answers FILE.jsonl] [--score] [--prepare]
        [--threads N]

Clips are world_set specs over the held-apart identities (deft.data.world.dataset.SPLITS["held"]: no training
clip shows them) with seeds none of deft's sets or trainings use (HELD_APART_SEED + j), written as H.264 at
their camera's CRF and analysed from the file as a user's clip would be. Each clip's mp4, analysis JSON and expert inputs are kept in `--cache` and reused, so a run can
go in pieces (`--first`, `--clips`); every answer is appended to `--answers` (JSON lines) and the report
scores that whole file; `--score` only re-scores it (no model). Both decoders answer deft explain's two
questions on clips j < `--compare` (same run, same clips); the rest only checked. `--chat` free-form
questions (CHAT, several asking for what did not happen), one per expressive clip, are checked the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_explain import TokenClock  # noqa: E402

from deft.analyze import analyze  # noqa: E402
from deft.data.world.clips import render_clip, world_set, write_clip  # noqa: E402
from deft.data.world.dataset import SPLITS  # noqa: E402
from deft.errors import DeftError  # noqa: E402
from deft.instruct.coverage import named_aus  # noqa: E402
from deft.instruct.faithful import ClipFacts, caveat, claims, ends_whole  # noqa: E402
from deft.labels import DEFAULT_QUESTIONS, EMOTION_QUESTION  # noqa: E402
from deft.model.batch import collate  # noqa: E402
from deft.model.features import ClipFeatures, clip_features  # noqa: E402

HELD_APART_SEED = 7_000_000  # world_set uses 1900_000-1906_039; deft.data.world.dataset keeps clear of it
MAX_NEW_TOKENS = 120  # as deft explain
CHAT = (  # free-form questions a user asks in the demo or the API; some ask for what did not happen
    "Did the brows lower (AU4)?", "Which muscles moved, and where?", "When does the motion start and peak?",
    "Which regions moved and in which direction?", "Is this surprise?", "How large was the motion, in pixels?",
    "Was there any movement around the mouth?", "Describe the expression in one sentence.",
    "Which side of the face moved more?", "What does AU12 mean here?", "Did the person blink?",
    "Is the person angry?", "Which Action Unit was strongest?", "Did the nose wrinkle?", "What happened around the eyes?",
    "How long did the expression last?", "Was this a genuine smile?", "At which frame is the apex?",
    "Did the lip corners go up or down?", "Name every Action Unit with its FACS name.", "Is this fear or surprise?",
    "How big was the movement in inter-ocular distances?", "Did the chin move?", "Was the inner brow raised?",
    "Explain the evidence for the emotion.", "Did anything move on the left side of the face?",
    "Is there any sign of contempt?", "What would a FACS coder write for this clip?",
    "Did the cheeks rise?", "Summarise the motion for a report.",
)


@dataclasses.dataclass
class Answer:
    text: str
    ttft: float  # s to the first streamed piece
    decoded: int  # tokens after the first
    decode_s: float


def ask(model, batch, question: str, facts: ClipFacts | None) -> Answer:
    clock = TokenClock()
    start = time.perf_counter()
    text = model.generate(batch, question, MAX_NEW_TOKENS, streamer=clock, facts=facts)
    if not clock.steps:
        return Answer(text, float("nan"), 0, 0.0)
    (first, n_first), last = clock.steps[0], clock.steps[-1][0]
    return Answer(text, first - start, sum(n for _, n in clock.steps) - n_first, last - first)


def specs(sets: list[str], first: int, n: int):
    """Clip j is clip j // len(sets) of set j mod len(sets) over the held-apart identities, seed HELD_APART_SEED + j:
    every identity shows every set, and every set has its distractor-only clips."""
    last = first + n
    by_set = {name: world_set(name, -(-last // len(sets)), identities=SPLITS["held"]) for name in sets}
    return [dataclasses.replace(by_set[sets[j % len(sets)]][j // len(sets)], seed=HELD_APART_SEED + j)
            for j in range(first, last)]


def prepared(spec, cache: Path) -> tuple[dict, ClipFeatures | None]:
    """(record: analysis JSON + identity + camera, expert inputs) of one clip, from `cache` or made there."""
    record_file, inputs = cache / f"{spec.seed}.json", cache / f"{spec.seed}.npz"
    if record_file.exists():
        record = json.loads(record_file.read_text())
        return record, ClipFeatures.from_npz(np.load(inputs)) if inputs.exists() else None
    clip_file = cache / f"{spec.seed}.mp4"
    write_clip(render_clip(spec), str(clip_file))
    record = {"seed": spec.seed, "identity": spec.identity, "emotion": spec.emotion, "crf": spec.camera.crf}
    try:
        analysis = analyze(clip_file)
    except DeftError as err:
        record["error"] = str(err)
        features = None
    else:
        record["analysis"] = analysis.to_dict()
        features = clip_features(analysis)
        np.savez(inputs, **features.to_npz())
    record_file.write_text(json.dumps(record))
    return record, features


class Tally:
    """Claims per kind (backed / all), named-AU coverage per clip, emotion stated = the analysis' label."""

    def __init__(self):
        self.backed, self.total = Counter(), Counter()
        self.fired = self.covered = self.fired_all = self.covered_all = 0
        self.emotion_asked = self.emotion_said = self.answers = self.unfinished = self.empty = 0
        self.unbacked: list[str] = []
        self.missed: Counter = Counter()

    def add(self, text: str, facts: ClipFacts, question: str) -> None:
        self.answers += 1
        self.unfinished += bool(text.strip()) and not ends_whole(text)  # cut short
        self.empty += bool(question) and not text.strip()  # no whole sentence checked: the user gets the summary
        found = claims(text, facts)
        for c in found:
            self.total[c.kind] += 1
            self.backed[c.kind] += c.fact is not None
            if c.fact is None and len(self.unbacked) < 12:
                self.unbacked.append(f"{c.kind} {c.text!r}")
        if question == EMOTION_QUESTION and facts.expressive:
            self.emotion_asked += 1
            self.emotion_said += any(c.kind == "emotion" and c.fact for c in found)

    def cover(self, text: str, facts: ClipFacts, expression: set[str]) -> None:
        """Of the clip's fired AUs (expression AUs; then with blinks/speech), how many its explanation names."""
        named = named_aus(text, facts)
        self.fired, self.covered = self.fired + len(expression), self.covered + len(named & expression)
        self.fired_all, self.covered_all = self.fired_all + len(facts.aus), self.covered_all + len(named & set(facts.aus))
        self.missed.update(expression - named)

    def report(self, name: str) -> None:
        kinds = " ".join(f"{k} {self.backed[k]}/{self.total[k]}" for k in sorted(self.total))
        allb, allt = sum(self.backed.values()), sum(self.total.values())
        print(f"{name}: {self.answers} answers ({self.unfinished} end mid-sentence, {self.empty} empty: the "
              f"facts' summary instead); "
              f"claims backed {allb}/{allt} ({allb / max(allt, 1):.3f}); {kinds}")
        if self.fired:
            print(f"  named-AU coverage per clip: expression AUs {self.covered}/{self.fired} "
                  f"({self.covered / self.fired:.3f}); with blinks/speech AUs {self.covered_all}/{self.fired_all} "
                  f"({self.covered_all / max(self.fired_all, 1):.3f}); fired but not named: {dict(self.missed)}")
        if self.emotion_asked:
            print(f"  emotion answers stating the analysis' label: {self.emotion_said}/{self.emotion_asked}")
        if self.unbacked:
            print(f"  unbacked, first ones: {'; '.join(self.unbacked)}")


def speed(answers: list[dict]) -> str:
    timed = [a for a in answers if a["decoded"]]
    if not timed:
        return "no timed answers"
    rate = sum(a["decoded"] for a in timed) / max(sum(a["decode_s"] for a in timed), 1e-9)
    return f"TTFT median {statistics.median(a['ttft'] for a in timed):.3f} s, {rate:.1f} tok/s over {len(timed)} answers"


def score(answers_file: Path, cache: Path) -> None:
    """Everything in the answers file, scored against each clip's cached analysis."""
    rows = [json.loads(line) for line in answers_file.read_text().splitlines() if line.strip()]
    records = {r["seed"]: json.loads((cache / f"{r['seed']}.json").read_text()) for r in rows}
    tallies = {d: Tally() for d in ("checked", "today", "chat")}
    explained: dict[tuple[str, int], list[str]] = {}
    for r in rows:
        facts = ClipFacts.from_analysis(records[r["seed"]]["analysis"])
        tallies[r["decoder"]].add(r["text"], facts, r["question"])
        if r["decoder"] != "chat" and facts.expressive:
            explained.setdefault((r["decoder"], r["seed"]), []).append(r["text"])
    for (decoder, seed), texts in explained.items():  # deft explain's answer = its two answers together
        analysis = records[seed]["analysis"]
        tallies[decoder].cover(" ".join(texts), ClipFacts.from_analysis(analysis), {a["au"] for a in analysis["aus"]})
    analysed = [r for r in records.values() if "analysis" in r]
    still = sum(not ClipFacts.from_analysis(r["analysis"]).expressive for r in analysed)
    print(f"{len(records)} clips answered ({still} with no expression AU: caveat only), "
          f"{len({r['identity'] for r in records.values()})} identities "
          f"({dict(Counter(r['identity'] for r in records.values()))}), seeds {min(records)}-{max(records)}")
    tallies["checked"].report("checked decoding (deft explain)")
    compared = {r["seed"] for r in rows if r["decoder"] == "today"}
    if compared:
        tallies["today"].report(f"today's decoder, {len(compared)} of the same clips")
        same = [r for r in rows if r["decoder"] == "checked" and r["seed"] in compared and r["ttft"] == r["ttft"]]
        print(f"speed, same clips and run: checked {speed(same)}; "
              f"today {speed([r for r in rows if r['decoder'] == 'today'])}")
    print(f"speed, all checked answers: {speed([r for r in rows if r['decoder'] == 'checked' and r['question']])}")
    tallies["chat"].report(f"free-form chat, checked ({len({r['question'] for r in rows if r['decoder'] == 'chat'})} "
                           "distinct questions)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--first", type=int, default=0, help="index of the first clip (runs in pieces)")
    parser.add_argument("--sets", default="clean,compression,lowres,blinks")
    parser.add_argument("--compare", type=int, default=10, help="clips j < N are answered by both decoders")
    parser.add_argument("--chat", type=int, default=30, help="free-form questions, checked (counted over the file)")
    parser.add_argument("--checkpoint", default=None, help="model folder (default: the packaged checkpoint)")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "deft" / "bench_faithful_held"),
                        help="clips, analyses and expert inputs, reused (delete it when the analyzer changes)")
    parser.add_argument("--answers", default=None, help="JSON lines, appended (default: CACHE/answers.jsonl)")
    parser.add_argument("--score", action="store_true", help="only score the answers file")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--prepare", action="store_true", help="only render and analyse the clips into the cache")
    args = parser.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    answers_file = Path(args.answers) if args.answers else cache / "answers.jsonl"
    if args.score:
        return score(answers_file, cache)
    if args.prepare:
        for j, spec in enumerate(specs(args.sets.split(","), args.first, args.clips), start=args.first):
            record, _ = prepared(spec, cache)
            print(f"  clip {j}: {spec.identity}, {record.get('error') or [a['au'] for a in record['analysis']['aus']]}",
                  flush=True)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    from deft.explain import load_model

    start = time.perf_counter()
    model = load_model(args.checkpoint)
    print(f"model {args.checkpoint or 'default'} loaded in {time.perf_counter() - start:.1f} s; "
          f"torch threads {torch.get_num_threads()}", flush=True)
    old = [json.loads(line) for line in answers_file.read_text().splitlines()] if answers_file.exists() else []
    asked = sum(r["decoder"] == "chat" for r in old)
    done = {(r["seed"], r["decoder"], r["question"]) for r in old}
    with answers_file.open("a") as out:
        def write(spec, decoder: str, question: str, a: Answer) -> None:
            row = {"seed": spec.seed, "identity": spec.identity, "decoder": decoder, "question": question,
                   **dataclasses.asdict(a)}
            out.write(json.dumps(row) + "\n")
            out.flush()

        for j, spec in enumerate(specs(args.sets.split(","), args.first, args.clips), start=args.first):
            record, features = prepared(spec, cache)
            if features is None:
                print(f"  clip {j}: refused ({record.get('error')})", flush=True)
                continue
            facts = ClipFacts.from_analysis(record["analysis"])
            if not facts.expressive:  # deft explain says so plainly (caveat) and asks the model nothing
                if (spec.seed, "checked", "") not in done:
                    write(spec, "checked", "", Answer(caveat(facts) or "", float("nan"), 0, 0.0))
                print(f"  clip {j}: {spec.identity}, no expression AU", flush=True)
                continue
            batch = collate([features])
            for q in DEFAULT_QUESTIONS:
                for decoder in ("checked", "today") if j < args.compare else ("checked",):
                    if (spec.seed, decoder, q) not in done:
                        write(spec, decoder, q, ask(model, batch, q, facts if decoder == "checked" else None))
            if asked < args.chat and not any(k[:2] == (spec.seed, "chat") for k in done):
                write(spec, "chat", CHAT[asked % len(CHAT)], ask(model, batch, CHAT[asked % len(CHAT)], facts))
                asked += 1
            print(f"  clip {j}: {spec.identity}, {len(facts.aus)} AUs fired", flush=True)
    score(answers_file, cache)


if __name__ == "__main__":
    main()
