"""Fit the manipulation check's heads on the calibration split and write deft/tools/manipulation_calibration.py.

Views: deft.tools.sent_images.labelled_views("calibration", N): unmodified world frames and real-photo
crops saved as people send them (JPEG q60-95, PNG, H.264 CRF 18-32, 112-160 px portraits), each also
beauty-filtered or spliced (then saved the same way) and saved at JPEG quality 30-70. Each head is an
L2 logistic regression on deft.tools.manipulation.EVIDENCE, negatives = unmodified + heavy JPEG,
positives = its manipulations, classes weighted equally (so P is calibrated at a 50 % prior); its
threshold is the probability at which at most TARGET_FPR of the calibration negatives flag, measured
out of fold (each identity scored by a model fitted without it), then the head is refitted on all.
The held-apart split is for benchmarks/bench_manipulation.py only.
Run: python benchmarks/calibrate_manipulation.py [--n 140] [--cache views.pkl]
"""

from __future__ import annotations

import argparse
import os
import pickle
from pathlib import Path
from pprint import pformat

import numpy as np

from deft.tools.manipulation import MIN_FACE_PX, evidence, main_face, noise_features
from deft.tools.sent_images import HEAVY_JPEG, SPLITS, labelled_views

HEAD_KINDS = {"smoothing_filter": ("bilateral", "guided", "gaussian", "blur_global"), "splice": ("splice",)}
TARGET_FPR = 0.015  # per head on the calibration negatives (two heads: about 3 % together at most)
L2 = 1.0
FOLDS = 5  # identity folds for out-of-fold thresholds
OUT = Path(__file__).resolve().parents[1] / "deft" / "tools" / "manipulation_calibration.py"


def views(split: str, n: int, cache: str | None) -> list[dict]:
    """{kind: RGB view} rows, from `cache` (a pickle) when it exists, else rendered (and cached)."""
    if cache and os.path.exists(cache):
        return [{k: v[0] if isinstance(v, tuple) else v for k, v in row.items()} for row in pickle.load(open(cache, "rb"))]
    rows = [{k: v.rgb for k, v in row.items()} for row in labelled_views(split, n)]
    if cache:
        pickle.dump(rows, open(cache, "wb"))
    return rows


def measured(rgb: np.ndarray) -> np.ndarray | None:
    """EVIDENCE of one view, None when its face is missing or under MIN_FACE_PX (inconclusive there)."""
    box, _ = main_face(rgb)
    if box is None or box[2] - box[0] < MIN_FACE_PX:
        return None
    return evidence(noise_features(rgb, box))


def fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """(weights, bias, mean, std): class-balanced L2 logistic regression by Newton steps on standardised x."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    sample_w = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    w = np.zeros(z.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-z @ w))
        grad = z.T @ (sample_w * (p - y)) + L2 * np.r_[w[:-1], 0]
        hess = (z * (sample_w * p * (1 - p))[:, None]).T @ z + L2 * np.diag(np.r_[np.ones(len(w) - 1), 0])
        w -= np.linalg.solve(hess, grad)
    return w[:-1], float(w[-1]), mean, std


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=140, help="unmodified views (each also manipulated per kind)")
    parser.add_argument("--cache", help="pickle of the rendered views (read if it exists, else written)")
    args = parser.parse_args()
    rows = views("calibration", args.n, args.cache)
    ev = [{k: measured(v) for k, v in row.items()} for row in rows]
    heads = {}
    for head, kinds in HEAD_KINDS.items():
        x, y, fold = [], [], []
        for i, r in enumerate(ev):
            for k, value in r.items():
                if value is not None and (k in kinds or k in ("clean", HEAVY_JPEG)):
                    x.append(value)
                    y.append(float(k in kinds))
                    fold.append(i % FOLDS)  # world views cycle the split's identities: a fold is one identity
        x, y, fold = np.array(x), np.array(y), np.array(fold)
        held = np.zeros(len(y))  # out-of-fold probabilities: what a threshold meets on unseen identities
        for f in range(FOLDS):
            w, b, mean, std = fit_logistic(x[fold != f], y[fold != f])
            held[fold == f] = 1 / (1 + np.exp(-(((x[fold == f] - mean) / std) @ w + b)))
        threshold = round(max(float(np.quantile(held[y == 0], 1 - TARGET_FPR)), 0.5) + 1e-4, 4)
        w, b, mean, std = fit_logistic(x, y)
        heads[head] = {"weights": np.round(w, 4).tolist(), "bias": round(b, 4), "mean": np.round(mean, 4).tolist(),
                       "std": np.round(std, 4).tolist(), "threshold": threshold,
                       "fitted_on": f"{int((y == 0).sum())} unmodified or heavy-JPEG vs {int(y.sum())} {'/'.join(kinds)}"}
        print(f"{head}: threshold {threshold:.3f}; out-of-fold: negatives flagged {np.mean(held[y == 0] >= threshold):.1%}, "
              f"positives {np.mean(held[y == 1] >= threshold):.1%}")
    n_clean = sum(r["clean"] is not None for r in ev)
    validated = (f"{n_clean} unmodified views (JPEG q60-95, PNG, H.264 CRF 18-32, 112-160 px portraits) of "
                 f"{', '.join(SPLITS['calibration'])} and crops of the two shipped photos; faces >= {MIN_FACE_PX} px")
    OUT.write_text(
        '"""Calibrated heads of the manipulation check: written by benchmarks/calibrate_manipulation.py, do not edit.\n\n'
        'Each head: P = sigmoid(weights . (evidence - mean) / std + bias); flagged at threshold.\n"""\n\n'
        f"VALIDATED_ON = {validated!r}\n\nHEADS = {pformat(heads, width=110, sort_dicts=False)}\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
