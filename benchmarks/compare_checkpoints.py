"""Checkpoints side by side on held-apart clips: heads, and the text with and without the answer guard.

Run: python benchmarks/compare_checkpoints.py HELD_DIR MODEL [MODEL ...] [--text-clips 15]
HELD_DIR from `deft build-instructions world:N:SEED:held --out DIR --features` (each clip's analysis JSON
lies beside its features). Heads (every kept clip): composite UF1 / UAR, fine accuracy, AU F1. Text: deft
explain's two questions on the first --text-clips clips where an expression AU fired (deft explain asks
the model nothing otherwise), answered free and guarded (deft.model.guard): claims backed by the analysis
(deft.instruct.faithful.claims), named-AU coverage of the fired AUs, emotion answers stating the analysis'
label, and like `deft eval --text` the composite UF1 and AU F1 of the text against the labels.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from deft.eval.metrics import mean_au_f1, megc_scored, uf1
from deft.eval.model_eval import composite_from_text, evaluate_heads
from deft.explain import load_model
from deft.instruct.build import features_path
from deft.instruct.claims import named_aus
from deft.instruct.faithful import ClipFacts, claims
from deft.labels import AU_QUESTION, DEFAULT_QUESTIONS, DETECTED_AUS, EMOTION_QUESTION
from deft.model.batch import collate
from deft.train.data import load_training_set

MAX_NEW_TOKENS = 120  # as deft explain


def clip_facts(folder: str, key: str) -> ClipFacts:
    dataset, subject, clip_id = key.split("/", 2)
    return ClipFacts.from_analysis(json.loads(features_path(folder, dataset, subject, clip_id).with_suffix(".json").read_text()))


def text_scores(model, clips: list, facts: list[ClipFacts], guarded: bool) -> dict:
    backed = total = fired = covered = said = 0
    truth, pred, true_aus, pred_aus, unbacked, start = [], [], [], [], [], time.perf_counter()
    for clip, f in zip(clips, facts):
        batch = collate([clip.features])
        answers = {q: model.generate(batch, q, MAX_NEW_TOKENS, facts=f if guarded else None) for q in DEFAULT_QUESTIONS}
        found = {q: claims(text, f) for q, text in answers.items()}
        for q in DEFAULT_QUESTIONS:
            backed += sum(c.fact is not None for c in found[q])
            total += len(found[q])
            unbacked += [f"{c.kind} {c.text!r}" for c in found[q] if c.fact is None]
        named = {c.fact["au"] for cs in found.values() for c in cs if c.kind == "au" and c.fact}
        fired, covered = fired + len(f.aus), covered + len(named & set(f.aus))
        said += any(c.kind == "emotion" and c.fact for c in found[EMOTION_QUESTION])
        truth.append(clip.composite)
        pred.append(composite_from_text(answers[EMOTION_QUESTION]))
        true_aus.append(clip.aus)
        pred_aus.append(named_aus(answers[AU_QUESTION]))
    truth, pred = megc_scored(truth, pred)
    return {"claims_backed": backed / max(total, 1), "claims": total, "coverage": covered / max(fired, 1),
            "emotion_stated": said / max(len(clips), 1), "composite_uf1": uf1(truth, pred),
            "au_f1": mean_au_f1(true_aus, pred_aus, DETECTED_AUS), "seconds": time.perf_counter() - start,
            "unbacked": unbacked[:4]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("held")
    parser.add_argument("models", nargs="+")
    parser.add_argument("--text-clips", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    held = load_training_set(args.held)
    facts = {c.key: clip_facts(args.held, c.key) for c in held.clips}
    expressive = [c for c in held.clips if facts[c.key].expressive][: args.text_clips]
    print(f"{args.held}: {len(held.clips)} clips ({len(set(c.subject for c in held.clips))} identities), text on "
          f"{len(expressive)} expressive ones; torch threads {args.threads}; load average {os.getloadavg()[0]:.2f}")
    for path in args.models:
        model = load_model(path)
        h = evaluate_heads(model, held)
        print(f"\n{path}\n  heads: composite UF1 {h['composite_uf1']:.3f}  UAR {h['composite_uar']:.3f}  "
              f"fine acc {h['fine_accuracy']:.3f}  AU F1 {h['au_f1']:.3f}", flush=True)
        for guarded in (False, True):
            t = text_scores(model, expressive, [facts[c.key] for c in expressive], guarded)
            print(f"  text {'guarded' if guarded else 'free   '}: claims backed {t['claims_backed']:.3f} of {t['claims']}  "
                  f"AU coverage {t['coverage']:.3f}  emotion = analysis {t['emotion_stated']:.3f}  composite UF1 "
                  f"{t['composite_uf1']:.3f}  AU F1 {t['au_f1']:.3f}  ({t['seconds']:.0f} s)", flush=True)
            if t["unbacked"]:
                print(f"    unbacked: {'; '.join(t['unbacked'])}")
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
