"""Does each expert help? Stage 1 (experts + heads) trained with each expert removed, scored on held-apart clips.

Run: python benchmarks/ablate_experts.py TRAIN_DIR HELD_DIR [--epochs N]
(folders from `deft build-instructions synthetic:N:SEED --out DIR --features`). Prints one line per
expert set: composite UF1 / UAR, fine accuracy, AU F1, and the training time.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from deft.eval.model_eval import evaluate_heads
from deft.model.config import DeftConfig
from deft.model.deft import DeftModel
from deft.train.data import load_training_set
from deft.train.experts_stage import ExpertsStage, train_experts
from deft.train.log import TrainingLog

SETS = (("structure", "texture", "motion"), ("texture", "motion"), ("structure", "motion"), ("structure", "texture"),
        ("motion",))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train")
    parser.add_argument("held")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    train, held = load_training_set(args.train), load_training_set(args.held)
    print(f"train: {len(train.clips)} clips, held-apart: {len(held.clips)} clips; {args.seeds} seeds each, mean shown")
    for experts in SETS:
        rows, seconds = [], 0.0
        for seed in range(args.seeds):
            model = DeftModel(DeftConfig(experts=experts, n_subjects=len(train.subjects)))
            start = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                train_experts(model, train, ExpertsStage(epochs=args.epochs, seed=seed), TrainingLog(f"{tmp}/log.jsonl"), progress=False)
            seconds += time.perf_counter() - start
            rows.append(evaluate_heads(model, held))
        mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("composite_uf1", "composite_uar", "fine_accuracy", "au_f1")}
        print(f"{'+'.join(experts):<26} UF1 {mean['composite_uf1']:.3f}  UAR {mean['composite_uar']:.3f}  "
              f"fine acc {mean['fine_accuracy']:.3f}  AU F1 {mean['au_f1']:.3f}  ({seconds / len(rows):.0f} s/run)")


if __name__ == "__main__":
    main()
