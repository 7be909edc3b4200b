"""Fit the learned apex (deft.motion.apex_model, deft/apex_model.json) on world clips of every set kind.

The clips are calibrate_aus.py's calibration set (its CALIBRATION_SEEDS, never bench_realism's SET_SEEDS), written
as mp4 files and analysed by today's `deft analyze` with the hand rule's apex (AnalyzeConfig(learned_apex=False));
every expression clip gives one row per frame: apex_features, and 1 within a frame of the true apex. Boosted trees
(scikit-learn's HistGradientBoostingClassifier) are fitted, checked on identity-held-out folds against the hand
rule (apex within +-2 frames, per set kind), refitted on every clip and written as JSON for numpy to read.
Refit after any change to tracking, registration, the motion curve or ordinary motion:
    python benchmarks/fit_apex.py --out /tmp/deft_calib     # renders once (shared with calibrate_aus.py)
(240 clips per kind: 1680 clips, about 35 CPU-minutes to render and analyse on this project's 2-core machine.)
Run: python benchmarks/fit_apex.py [--clips N] [--sets a,b] [--out DIR] [--rows rows.pkl] [--dry-run]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_realism import load_note, write_world_set
from calibrate_aus import CALIBRATION_SEEDS, calibration_set_args
from deft.analyze import AnalyzeConfig, analyze
from deft.errors import DeftError
from deft.motion.apex_model import MODEL_FILE, apex_features, from_sklearn
from deft.ordinary.separate import separator

TREES = dict(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=0)
FOLDS = 4
NEAR = 2  # frames: an apex this close to the truth is found (bench_realism's apex +-2)


def clip_rows(names: list[str], n_clips: int, folder: Path) -> dict[str, dict]:
    """Per analysed expression clip: set kind, identity, truth apex, the hand rule's apex and what apex_features
    reads."""
    config = AnalyzeConfig(calibrated=False, learned_apex=False)
    rows = {}
    for name in names:
        cases, _ = write_world_set(name, n_clips, folder / name, seed=CALIBRATION_SEEDS[name], reuse=True)
        for case in cases:
            if case.apex is None:
                continue
            try:
                r = analyze(case.path, config)
            except DeftError:
                continue
            ph, sep = r.phases, separator(r.ordinary)
            residual = ph.vectors if sep is None else sep.residual(np.arange(len(ph.vectors)), ph.vectors)
            who = json.loads(Path(case.path).with_suffix(".json").read_text())["identity"]
            rows[case.path] = dict(kind=name, who=who, apex=case.apex, rule_apex=ph.apex,
                                   features=apex_features(residual, np.asarray(ph.curve), r.fps,
                                                          r.ordinary.signals, r.pose.angles()).astype(np.float32))
    return rows


def labelled(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([r["features"] for r in rows])
    y = np.concatenate([(np.abs(np.arange(len(r["features"])) - r["apex"]) <= 1).astype(int) for r in rows])
    return x, y


def held_out(rows: list[dict]) -> dict[str, list[tuple[bool, bool]]]:
    """Per set kind, (learned, hand rule) apex within NEAR frames, each clip scored by trees fitted without its
    identity (world identities cycle through the clips, so folds group by the identity's name)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    ids = sorted({r["who"] for r in rows})
    out: dict[str, list[tuple[bool, bool]]] = {}
    for fold in range(FOLDS):
        test_ids = set(ids[fold::FOLDS])
        train = labelled([r for r in rows if r["who"] not in test_ids])
        model = from_sklearn(HistGradientBoostingClassifier(**TREES).fit(*train))
        for r in (r for r in rows if r["who"] in test_ids):
            apex = int(np.argmax(model.score(r["features"].astype(np.float64))))
            hits = (abs(apex - r["apex"]) <= NEAR, abs(r["rule_apex"] - r["apex"]) <= NEAR)
            out.setdefault(r["kind"], []).append(hits)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    calibration_set_args(parser, MODEL_FILE.name)
    args = parser.parse_args()
    from sklearn.ensemble import HistGradientBoostingClassifier

    start = time.perf_counter()
    if args.rows and os.path.exists(args.rows):
        with open(args.rows, "rb") as f:
            rows = pickle.load(f)
    else:
        folder = Path(args.out or tempfile.mkdtemp(prefix="deft_calib_"))
        rows = clip_rows(args.sets.split(","), args.clips, folder)
        if args.rows:
            with open(args.rows, "wb") as f:
                pickle.dump(rows, f)
    listed = list(rows.values())
    print(f"{len(listed)} expression clips analysed in {time.perf_counter() - start:.0f} s ({load_note()})")
    print(f"identity-held-out folds ({FOLDS}), apex within +-{NEAR} frames: learned vs hand rule")
    for kind, hits in sorted(held_out(listed).items()):
        learned, rule = np.mean([h[0] for h in hits]), np.mean([h[1] for h in hits])
        print(f"  {kind:<12} n={len(hits):3d}  learned {learned:.2f}  rule {rule:.2f}")
    trees = HistGradientBoostingClassifier(**TREES).fit(*labelled(listed))
    model = from_sklearn(trees)
    x = listed[0]["features"].astype(np.float64)
    assert np.allclose(model.score(x), trees.decision_function(x), atol=1e-6), "exported trees score differently"
    model.about = (f"{len(listed)} expression clips ({args.sets}; seeds {CALIBRATION_SEEDS}), "
                   f"{len(model.trees)} trees, fitted {time.strftime('%Y-%m-%d')}")
    if not args.dry_run:
        model.save()
        print(f"wrote {MODEL_FILE}")


if __name__ == "__main__":
    main()
