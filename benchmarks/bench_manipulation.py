"""ROC AUC of `check_manipulation` per manipulation, and its time per call.

Samples are random views of the packaged real faces (Eileen Collins, Grace Hopper): the photos at a
random scale (0.6-1, or native) and square crop around the face, half with added sensor noise
(std 0.5-2.5), plus frames of synthetic clips of both faces. Each clean view is also manipulated
once per kind (see deft.tools.manipulation.MANIPULATIONS, random strength); the AUC compares the
score of the clean views with that of each kind's views (Mann-Whitney, ties count half).
The cue scales in manipulation.py were set on seed 1; seed 0 (the default) is held apart.
Run: python benchmarks/bench_manipulation.py [--n 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from functools import lru_cache

import cv2
import numpy as np

from deft.data.faces import face_photo
from deft.data.synthetic import SyntheticSpec, render
from deft.tools.manipulation import MANIPULATIONS, check_manipulation, main_face, manipulate

FACES = ("astronaut", "hopper")


@lru_cache(maxsize=None)
def _clip(face: str, seed: int) -> np.ndarray:
    return render(SyntheticSpec(face=face, aus=(("AU12", 2.0),), seed=seed)).frames


def clean_view(rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int, int, int], str]:
    """(RGB view, face box, face name): a random scale/crop/noise of a photo, or a synthetic frame."""
    face = FACES[int(rng.integers(2))]
    if rng.random() < 0.5:
        img = np.array(face_photo(face))
        if rng.random() >= 0.3:  # else keep the native pixels (and the hopper JPEG's grid)
            scale = rng.uniform(0.6, 1.0)
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    else:
        img = _clip(face, int(rng.integers(3)))[int(rng.integers(30))].copy()
    left, top, right, bottom = main_face(img)[0]
    h, w = img.shape[:2]
    side = int(min(h, w) * rng.uniform(0.75, 1.0))
    x0 = int(rng.integers(max(0, right - side), max(0, min(left, w - side)) + 1))
    y0 = int(rng.integers(max(0, bottom - side), max(0, min(top, h - side)) + 1))
    img = img[y0:y0 + side, x0:x0 + side].copy()
    if rng.random() < 0.5:
        img = np.clip(img + rng.normal(0, rng.uniform(0.5, 2.5), img.shape), 0, 255).astype(np.uint8)
    box, _ = main_face(img)
    return img, box, face


def auc(negatives: list[float], positives: list[float]) -> float:
    """P(score of a manipulated view > score of a clean one), ties counted half (Mann-Whitney U / n1 n2)."""
    neg, pos = np.asarray(negatives)[None, :], np.asarray(positives)[:, None]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (neg.size * pos.size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="clean views (each also manipulated once per kind)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    scores: dict[str, list[float]] = {k: [] for k in ("clean", *MANIPULATIONS)}
    flagged: dict[str, list[bool]] = {k: [] for k in scores}
    times, sides = [], []
    for _ in range(args.n):
        img, box, face = clean_view(rng)
        sides.append(img.shape[0])
        views = {"clean": img}
        for kind in MANIPULATIONS:
            donor = face_photo("hopper" if face == "astronaut" else "astronaut")
            views[kind] = manipulate(img, kind, rng, box=box, donor=donor)
        for kind, view in views.items():
            start = time.perf_counter()
            report = check_manipulation(view)  # the check finds the face itself
            times.append(time.perf_counter() - start)
            scores[kind].append(report.score)
            flagged[kind].append(bool(report.raised))
    print(f"{args.n} clean views vs {args.n} manipulated views per kind (seed {args.seed})")
    print(f"{'kind':<12} {'AUC':>6} {'flagged':>8}")
    print(f"{'clean':<12} {'':>6} {np.mean(flagged['clean']):>8.0%}")
    for kind in MANIPULATIONS:
        print(f"{kind:<12} {auc(scores['clean'], scores[kind]):>6.3f} {np.mean(flagged[kind]):>8.0%}")
    print(f"time per call: {1000 * np.mean(times):.1f} ms mean, {1000 * np.median(times):.1f} ms median "
          f"(square views {min(sides)}-{max(sides)} px, face detection included)")


if __name__ == "__main__":
    main()
