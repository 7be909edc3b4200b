"""Checkpoints side by side on held-apart clips: heads, and the text with and without the answer guard.

Run: python benchmarks/compare_checkpoints.py HELD_DIR MODEL [MODEL ...] [--text-clips 15]
HELD_DIR from `deft build-instructions world:N:SEED:held --out DIR --features` (each clip's analysis JSON
lies beside its features). Heads (every kept clip): composite UF1 / UAR, fine accuracy, AU F1. Text: deft
explain's two questions on the first --text-clips clips where an expression AU fired (deft explain asks
the model nothing otherwise), answered free and guarded (deft.model.guard), scored by bench_faithful's Tally:
claims backed by the analysis per kind, named-AU coverage of the fired expression AUs (both answers
together), emotion answers stating the analysis' label; and like `deft eval --text` the composite UF1 and
AU F1 of the text against the labels.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from deft.eval.metrics import mean_au_f1, megc_scored, uf1
from deft.eval.model_eval import composite_from_text, evaluate_heads
from deft.explain import load_model
from deft.instruct.build import features_path
from deft.instruct.claims import named_aus
from deft.instruct.faithful import ClipFacts
from deft.labels import AU_QUESTION, DEFAULT_QUESTIONS, DETECTED_AUS, EMOTION_QUESTION
from deft.model.batch import collate
from deft.train.data import load_training_set

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_faithful import MAX_NEW_TOKENS, Tally  # noqa: E402  (helper F's scoring, one definition)


def clip_analysis(folder: str, key: str) -> dict:
    dataset, subject, clip_id = key.split("/", 2)
    return json.loads(features_path(folder, dataset, subject, clip_id).with_suffix(".json").read_text())


def text_scores(model, clips: list, analyses: list[dict], guarded: bool) -> tuple[Tally, dict]:
    """bench_faithful's Tally of the answers (claims, coverage, emotion), and the text's composite UF1 and
    AU F1 against the clips' labels (as `deft eval --text`)."""
    tally, truth, pred, true_aus, pred_aus, start = Tally(), [], [], [], [], time.perf_counter()
    for clip, analysis in zip(clips, analyses):
        facts = ClipFacts.from_analysis(analysis)
        batch = collate([clip.features])
        answers = {q: model.generate(batch, q, MAX_NEW_TOKENS, facts=facts if guarded else None) for q in DEFAULT_QUESTIONS}
        for q, text in answers.items():
            tally.add(text, facts, q)
        tally.cover(" ".join(answers.values()), facts, {a["au"] for a in analysis["aus"]})
        truth.append(clip.composite)
        pred.append(composite_from_text(answers[EMOTION_QUESTION]))
        true_aus.append(clip.aus)
        pred_aus.append(named_aus(answers[AU_QUESTION]))
    truth, pred = megc_scored(truth, pred)
    return tally, {"composite_uf1": uf1(truth, pred), "au_f1": mean_au_f1(true_aus, pred_aus, DETECTED_AUS),
                   "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("held")
    parser.add_argument("models", nargs="+")
    parser.add_argument("--text-clips", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    held = load_training_set(args.held)
    analyses = {c.key: clip_analysis(args.held, c.key) for c in held.clips}
    expressive = [c for c in held.clips if ClipFacts.from_analysis(analyses[c.key]).expressive][: args.text_clips]
    print(f"{args.held}: {len(held.clips)} clips ({len(set(c.subject for c in held.clips))} identities), text on "
          f"{len(expressive)} expressive ones; torch threads {args.threads}; load average {os.getloadavg()[0]:.2f}")
    for path in args.models:
        model = load_model(path)
        h = evaluate_heads(model, held)
        print(f"\n{path}\n  heads: composite UF1 {h['composite_uf1']:.3f}  UAR {h['composite_uar']:.3f}  "
              f"fine acc {h['fine_accuracy']:.3f}  AU F1 {h['au_f1']:.3f}", flush=True)
        for guarded in (False, True) if expressive else ():  # --text-clips 0: heads only
            tally, t = text_scores(model, expressive, [analyses[c.key] for c in expressive], guarded)
            tally.report(f"  text {'guarded' if guarded else 'free'} ({t['seconds']:.0f} s)")
            print(f"    text against the labels: composite UF1 {t['composite_uf1']:.3f}  AU F1 {t['au_f1']:.3f}",
                  flush=True)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
