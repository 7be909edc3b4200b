"""Where small faces break the AU rules: precision and recall of the rules' firing against face size.

Clips of the world's `lowres` kind (frontal, still, lossless; calibration seeds, never bench_realism's)
are filmed again with the eyes N px apart for each N, written as mp4 and analysed with the rules' own
firing (AnalyzeConfig(calibrated=False)). Per N: fired rules and their precision (share whose AU the
expression moved), recall (share of the expressions' AUs fired), AU F1, and the share of distractor-only
clips with a fired rule. deft.reliability.MIN_IOD_PX sits where precision or recall falls.
Run: python benchmarks/bench_face_size.py [--clips N] [--iods 12,16,20] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench_realism import load_note
from calibrate_aus import CALIBRATION_SEEDS
from deft.analyze import AnalyzeConfig, analyze
from deft.data.world.clips import render_clip, world_set, write_clip
from deft.errors import DeftError
from deft.eval.metrics import mean_au_f1
from deft.labels import DETECTED_AUS

IODS = (12, 14, 16, 18, 20, 23, 26, 30, 36)
SMALL_FRAME_BELOW_IOD = 35  # the lowres kind's 160x160 frame; larger faces get 256x256 (deft.data.world.clips)


def bench_size(iod: float, n_clips: int, folder: Path) -> dict:
    """Render the calibration lowres specs at eyes `iod` px apart and score the rules' firing."""
    folder.mkdir(parents=True, exist_ok=True)
    size = 160 if iod < SMALL_FRAME_BELOW_IOD else 256
    truth, fired, refused = [], [], 0
    for i, spec in enumerate(world_set("lowres", n_clips, seed=CALIBRATION_SEEDS["lowres"])):
        spec = replace(spec, camera=replace(spec.camera, iod_px=float(iod), width=size, height=size))
        clip = render_clip(spec)
        path = folder / f"clip{i:03d}.mp4"
        write_clip(clip, str(path))
        truth.append(set(clip.truth.aus) & set(DETECTED_AUS))
        try:
            fired.append({a.au for a in analyze(path, AnalyzeConfig(calibrated=False)).aus})
        except DeftError:
            fired.append(set())
            refused += 1
    hits = sum(len(f & t) for f, t in zip(fired, truth))
    n_fired, n_true = sum(len(f) for f in fired), sum(len(t) for t in truth)
    probes = [bool(f) for f, t in zip(fired, truth) if not t]
    return {"iod": iod, "fired": n_fired, "precision": hits / n_fired if n_fired else float("nan"),
            "recall": hits / n_true if n_true else float("nan"), "f1": mean_au_f1(truth, fired, DETECTED_AUS),
            "fp": float(np.mean(probes)) if probes else float("nan"), "refused": refused}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16, help="clips per face size")
    parser.add_argument("--iods", default=",".join(map(str, IODS)), help="eye distances, px")
    parser.add_argument("--out", default=None, help="keep the written clips here (default: a temporary folder)")
    args = parser.parse_args()
    print(f"== start: {load_note()}")
    print(f"{'eyes px':>7} {'fired':>6} {'precision':>9} {'recall':>6} {'AU F1':>6} {'FP':>5} {'refused':>7}")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for iod in (float(v) for v in args.iods.split(",")):
            r = bench_size(iod, args.clips, Path(args.out or tmp) / f"iod{iod:g}")
            print(f"{r['iod']:>7g} {r['fired']:>6} {r['precision']:>9.2f} {r['recall']:>6.2f} {r['f1']:>6.3f} "
                  f"{r['fp']:>5.2f} {r['refused']:>7}", flush=True)
    print(f"total {time.perf_counter() - start:.0f} s; at the end {load_note()}")


if __name__ == "__main__":
    main()
