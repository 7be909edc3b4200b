"""False positives on unmodified images and ROC AUC per manipulation of `check_manipulation`, held apart.

Views: deft.tools.sent_images.labelled_views("held_apart", N): unmodified frames of the realistic world
(identities, poses, lighting, cameras apart from the calibration split's, other seeds) and crops of the two
shipped photos, saved as people send them (JPEG q60-95, PNG, H.264 CRF 18-32, 112-160 px portraits);
each also beauty-filtered (bilateral, guided, gaussian on the face; blur_global) or spliced, then saved
the same way, and saved at JPEG quality 30-70 (compression, not a manipulation). The heads were fitted
on the calibration split (benchmarks/calibrate_manipulation.py). A false positive is a verdict of
smoothed or spliced on an unmodified or heavy-JPEG view; AUC compares probabilities (Mann-Whitney,
ties half). --old FILE also runs another version of
manipulation.py (e.g. `git show REV:deft/tools/manipulation.py > old.py`) on the same views.
Run: python benchmarks/bench_manipulation.py [--n 140] [--cache views.pkl] [--old old.py]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time

import numpy as np

from calibrate_manipulation import views  # the script beside this one (its folder is on sys.path)
from deft.tools.manipulation import check_manipulation
from deft.tools.sent_images import HEAVY_JPEG, MANIPULATED, SAVES

MANIPULATION_VERDICTS = ("smoothed", "spliced")


def auc(negatives: list[float], positives: list[float]) -> float:
    """P(score of a manipulated view > score of a clean one), ties counted half (Mann-Whitney U / n1 n2)."""
    neg, pos = np.asarray(negatives)[None, :], np.asarray(positives)[:, None]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (neg.size * pos.size))


def run_new(rows: list[dict]) -> dict[str, list[tuple[float, str]]]:
    """{kind: [(probability or None, verdict), ...]} of the current check."""
    out: dict[str, list] = {}
    for row in rows:
        for kind, rgb in row.items():
            report = check_manipulation(rgb)
            out.setdefault(kind, []).append((report.probability, report.verdict))
    return out


def run_old(rows: list[dict], path: str) -> dict[str, list[tuple[float, bool]]]:
    """{kind: [(score, any flag raised), ...]} of another manipulation.py."""
    spec = importlib.util.spec_from_file_location("old_manipulation", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    out: dict[str, list] = {}
    for row in rows:
        for kind, rgb in row.items():
            report = module.check_manipulation(rgb)
            out.setdefault(kind, []).append((report.score, bool(report.raised)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=140, help="unmodified views (each also manipulated per kind)")
    parser.add_argument("--cache", help="pickle of the rendered held-apart views (read if it exists, else written)")
    parser.add_argument("--old", help="another manipulation.py to run on the same views")
    args = parser.parse_args()
    rows = views("held_apart", args.n, args.cache)
    start = time.perf_counter()
    new = run_new(rows)
    per_call = (time.perf_counter() - start) / sum(len(v) for v in new.values())
    old = run_old(rows, args.old) if args.old else None
    fp = lambda kind: np.mean([v in MANIPULATION_VERDICTS for _, v in new[kind]])  # noqa: E731
    share = lambda kind, verdict: np.mean([v == verdict for _, v in new[kind]])  # noqa: E731
    print(f"held-apart: {len(new['clean'])} unmodified views, each manipulated once per kind")
    print(f"{'':<14}{'new: flagged':>13}{'inconclusive':>13}{'compressed':>11}{'AUC':>7}{'AUC meas.':>10}"
          f"   {'old: flagged':>12}{'AUC':>7}")
    zero = lambda kind: [0.0 if p is None else p for p, _ in new[kind]]  # noqa: E731
    measured = lambda kind: [p for p, _ in new[kind] if p is not None]  # noqa: E731
    for kind in ("clean", HEAVY_JPEG, *MANIPULATED):
        a = "" if kind == "clean" else f"{auc(zero('clean'), zero(kind)):.3f}"
        m = "" if kind == "clean" else f"{auc(measured('clean'), measured(kind)):.3f}"
        line = (f"{kind:<14}{fp(kind):>13.1%}{share(kind, 'inconclusive'):>13.1%}{share(kind, 'compressed'):>11.1%}"
                f"{a:>7}{m:>10}")
        if old:
            oa = "" if kind == "clean" else f"{auc([s for s, _ in old['clean']], [s for s, _ in old[kind]]):.3f}"
            line += f"   {np.mean([f for _, f in old[kind]]):>12.1%}{oa:>7}"
        print(line)
    print(f"AUC: probability, 0 where not measured (face < MIN_FACE_PX or none); AUC meas.: measured views only "
          f"({len(measured('clean'))} unmodified)")
    print(f"unmodified views by save ({', '.join(SAVES)} cycled): new flagged "
          + ", ".join(f"{save} {np.mean([v in MANIPULATION_VERDICTS for _, v in new['clean'][i::len(SAVES)]]):.1%}"
                      for i, save in enumerate(SAVES)))
    print(f"time per call: {1000 * per_call:.1f} ms mean (face detection included)")


if __name__ == "__main__":
    main()
