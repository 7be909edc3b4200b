"""Refit the AU confidence calibration (deft/au_calibration.json) on a world calibration set.

The calibration set is every named world set kind (clean, pose, speech, blinks, lowres, compression,
all) drawn with its own seeds (CALIBRATION_SEEDS, never bench_realism's SET_SEEDS), rendered to mp4
files as a user has them and analysed by today's `deft analyze` with the rules' own confidences
(AnalyzeConfig(calibrated=False)). Each (clip, AU rule) is one row: strength, pull, clip covariates,
truth = the AU moved in some event of the clip. Identity-held-out folds give out-of-fold confidences:
their ECE (pooled and per set kind), and on them each AU's decision threshold (deft.eval.au_thresholds:
F1-best under the distractor limit). The model (deft.confidence.Calibration) is then fitted on all rows
and written with those thresholds; so is the learned model that reports the confidences (deft.au_model,
deft/au_model.json) with its own out-of-fold thresholds, per set kind beside the calibration's. A table of
rule errors per covariate bin shows where the rules fail (deft.reliability's limits). Refit after any change
to the AU rules, registration or flow:
    python benchmarks/calibrate_aus.py --out /tmp/deft_calib     # renders once, reuses after
Run: python benchmarks/calibrate_aus.py [--clips N] [--sets a,b] [--out DIR] [--rows rows.pkl] [--dry-run]
"""

from __future__ import annotations

import argparse
import os
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_realism import load_note, write_world_set
from deft.analyze import AnalyzeConfig, analyze
from deft.au_model import MODEL_FILE
from deft.confidence import CALIBRATION_FILE
from deft.data.world.clips import SET_NAMES
from deft.errors import DeftError
from deft.eval.au_thresholds import MAX_FP_POOLED, MAX_FP_SET, ClipRow, choose_thresholds, decision_scores, reported
from deft.eval.calibration import (AURow, apply, apply_model, au_rows, fit_au_model, fit_calibration, moved_aus,
                                   reliability_text)
from deft.eval.metrics import expected_calibration_error
from deft.labels import au_number
from deft.reliability import judge

CALIBRATION_SEEDS = {name: 2900 + i for i, name in enumerate(SET_NAMES)}  # bench_realism uses 1900 + i
FOLDS = 5  # identity folds (identities cycle through the clips)


def collect(names: list[str], n_clips: int, folder: Path) -> tuple[list[AURow], list[ClipRow]]:
    """Render (or reuse) and analyse the calibration clips; one row per (clip, AU rule) and one per clip."""
    import json

    rows: list[AURow] = []
    clips: list[ClipRow] = []
    config = AnalyzeConfig(calibrated=False)
    for name in names:
        cases, render_s = write_world_set(name, n_clips, folder / name, seed=CALIBRATION_SEEDS[name], reuse=True)
        start, refused = time.perf_counter(), 0
        for case in cases:
            truth = json.loads(Path(case.path).with_suffix(".json").read_text())
            try:
                analysis = analyze(case.path, config)
                rows += au_rows(analysis, moved_aus(case), truth["identity"])
                ph = analysis.phases
                clips.append(ClipRow(case.path, truth["identity"], name, case, (analysis.flow_reference, ph.apex, ph.offset),
                                     analysis.ordinary))
            except DeftError:
                refused += 1
        print(f"{name}: {len(cases)} clips (rendered in {render_s:.0f} s, analysed in {time.perf_counter() - start:.0f} s, "
              f"{refused} refused); {load_note()}", flush=True)
    return rows, clips


def out_of_fold(rows: list[AURow], learned: bool = False) -> list[float]:
    """Each identity fold's confidences from a calibration fitted without it (`learned`: averaged with the learned
    model's, as deft analyze reports them)."""
    groups = sorted({r.group for r in rows})
    fold_of = {g: i % FOLDS for i, g in enumerate(groups)}
    conf = np.zeros(len(rows))
    for f in range(FOLDS):
        train = [r for r in rows if fold_of[r.group] != f]
        held = [i for i, r in enumerate(rows) if fold_of[r.group] == f]
        if train and held:
            calibrated = apply(fit_calibration(train), [rows[i] for i in held])
            conf[held] = apply_model(fit_au_model(train), [rows[i] for i in held], calibrated) if learned else calibrated
    return conf.tolist()


# Covariates in plain units, from Covariates.vector()'s transforms, and the bins the table shows them in.
PLAIN = {
    "background (10th pct of regions) / T": (lambda q: np.expm1(q[3]), [0, 0.5, 1, 1.5, 2, 3, 5, np.inf]),
    "yaw/pitch change onset->apex, deg": (lambda q: 10 * q[1], [0, 1, 2, 3, 4, 6, 8, 12, np.inf]),
    "eyes apart, px": (lambda q: 40 * 2 ** q[0], [0, 22, 26, 30, 40, 60, 80, np.inf]),
    "sharpness": (lambda q: 10 ** (q[2] + 2), [0, 10, 20, 40, 80, 160, np.inf]),
    "landmark jitter, IOD": (lambda q: 0.01 * q[4], [0, 0.004, 0.006, 0.008, 0.01, 0.015, np.inf]),
    "registration error, IOD": (lambda q: 0.05 * q[5], [0, 0.005, 0.01, 0.02, 0.04, np.inf]),
    "head residual onset->apex, IOD": (lambda q: 0.01 * q[6], [0, 0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.03, np.inf]),
}


def covariate_table(rows: list[AURow]) -> str:
    """Per covariate bin: rules fired and their precision (share whose AU moved): where the rules fail."""
    fired = [r for r in rows if r.fired]
    lines = [f"{'covariate':<36} {'bin':>15} {'fired':>6} {'precision':>9}"]
    for name, (plain, edges) in PLAIN.items():
        values = np.array([plain(r.q) for r in fired])
        for lo, hi in zip(edges[:-1], edges[1:]):
            m = (values >= lo) & (values < hi)
            if m.any():
                precision = np.mean([r.moved for r, keep in zip(fired, m) if keep])
                lines.append(f"{name:<36} {lo:>6.3g} .. {hi:<6.3g} {m.sum():>6} {precision:>9.2f}")
    return "\n".join(lines)


def per_set_text(rows: list[AURow], clips: list[ClipRow], confidence: list[float], outcome: list[bool],
                 threshold: dict[str, float] | None = None) -> str:
    """Per set kind: ECE, and AU F1 / distractor FP of the AUs reported at `threshold` (0.5 when None)."""
    threshold = threshold or {r.au: 0.5 for r in rows}
    names = list(dict.fromkeys(c.set_name for c in clips))
    set_of = {c.clip: c.set_name for c in clips}
    lines = [f"{'set':<12} {'ECE':>6} {'AU F1':>6} {'FP':>5}   (thresholds: {'per AU' if len(set(threshold.values())) > 1 else '0.5'})"]
    for name in [*names, "pooled"]:
        keep = [i for i, r in enumerate(rows) if name == "pooled" or set_of.get(r.clip) == name]
        ece = expected_calibration_error([confidence[i] for i in keep], [outcome[i] for i in keep])
        sub = [c for c in clips if name == "pooled" or c.set_name == name]
        f1, fp, _ = decision_scores(sub, reported(rows, sub, confidence, threshold))
        lines.append(f"{name:<12} {ece:>6.3f} {f1:>6.3f} {fp:>5.2f}")
    return "\n".join(lines)


def calibration_set_args(parser: argparse.ArgumentParser, writes: str) -> None:
    """The options of a fit on the calibration set (here and fit_apex.py): which clips, where they and their
    analysed rows are kept, and whether the fitted file (`writes`) is written."""
    parser.add_argument("--sets", default=",".join(SET_NAMES), help="comma-separated world set kinds")
    parser.add_argument("--clips", type=int, default=240, help="clips per set kind")
    parser.add_argument("--out", default=None, help="keep the rendered clips here and reuse them (default: temporary)")
    parser.add_argument("--rows", default=None, help="pickle of the analysed rows: read if it exists, else written")
    parser.add_argument("--dry-run", action="store_true", help=f"report only; do not write {writes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    calibration_set_args(parser, CALIBRATION_FILE.name)
    args = parser.parse_args()
    print(f"== start: {load_note()}")
    if args.rows and os.path.exists(args.rows):
        rows, clips = pickle.load(open(args.rows, "rb"))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            rows, clips = collect([n for n in args.sets.split(",") if n], args.clips, Path(args.out or tmp))
        if args.rows:
            pickle.dump((rows, clips), open(args.rows, "wb"))
    for r in rows:  # under today's limits (deft.reliability), whatever they were when the rows were analysed
        r.reliable = judge(r.quality, r.covariates)[0] if r.quality is not None else r.reliable
    outcome = [r.moved for r in rows]
    n_clips = len({r.clip for r in rows})
    print(covariate_table(rows), "\n")
    print(reliability_text([r.rule_confidence for r in rows], outcome, "the rules' own confidence"), "\n")
    held_out = out_of_fold(rows)
    print(reliability_text(held_out, outcome, f"calibrated, out of fold ({FOLDS} identity folds)"), "\n")
    print(per_set_text(rows, clips, held_out, outcome), "\n")
    threshold = choose_thresholds(rows, clips, held_out)
    print(f"decision thresholds (F1-best on the out-of-fold confidences, distractor FP <= {MAX_FP_SET:.0%} per set, "
          f"<= {MAX_FP_POOLED:.0%} pooled): " + ", ".join(f"{au} {t:.2f}" for au, t in sorted(threshold.items(), key=lambda kv: au_number(kv[0]))))
    print(per_set_text(rows, clips, held_out, outcome, threshold), "\n")
    calibration = fit_calibration(rows, f"{n_clips} world clips ({args.sets}; seeds {CALIBRATION_SEEDS}), "
                                        f"{len(rows)} (clip, AU) pairs, {int(sum(outcome))} moved", threshold)
    print(reliability_text(apply(calibration, rows), outcome, "calibrated, in sample"))
    print(f"ECE in sample {expected_calibration_error(apply(calibration, rows), outcome):.4f}")
    if not args.dry_run:
        calibration.save(CALIBRATION_FILE)
        print(f"wrote {CALIBRATION_FILE}")
    if any(r.x is None for r in rows):
        print(f"rows without region vectors (a --rows file of an older deft): {MODEL_FILE.name} not refitted")
        return
    learned = out_of_fold(rows, learned=True)
    print(reliability_text(learned, outcome, f"learned model, out of fold ({FOLDS} identity folds)"), "\n")
    model_threshold = choose_thresholds(rows, clips, learned)
    print("learned model's decision thresholds: "
          + ", ".join(f"{au} {t:.2f}" for au, t in sorted(model_threshold.items(), key=lambda kv: au_number(kv[0]))))
    print(per_set_text(rows, clips, learned, outcome, model_threshold), "\n")
    model = fit_au_model(rows, f"{n_clips} world clips ({args.sets}; seeds {CALIBRATION_SEEDS}), "
                               f"{len(rows)} (clip, AU) pairs, {int(sum(outcome))} moved", model_threshold)
    if not args.dry_run:
        model.save(MODEL_FILE)
        print(f"wrote {MODEL_FILE}")


if __name__ == "__main__":
    main()
