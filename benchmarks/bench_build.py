"""Throughput of `deft build-instructions`: clips per second with 1 and 2 workers (target >= 10/s).

Clips are synthetic 30-frame 256x256 mp4 files rendered beforehand (rendering is not timed), with
their true labels, so the numbers cover what a real dataset build does: decode, align, analyse,
quality control (face, identity, landmarks), grounding and writing JSONL.
A pool of workers starts once per build (spawned processes import deft and load the dlib models);
that start-up is timed on its own and included in the rates, so small builds show it most.
Run: python benchmarks/bench_build.py [--clips N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from deft.data.synthetic import render, synthetic_set
from deft.instruct.build import Job, build
from deft.video import write_video

TARGET_CLIPS_PER_S = 10.0


def file_jobs(n: int, folder: Path) -> list[Job]:
    jobs = []
    for i, spec in enumerate(synthetic_set(n, seed=21)):
        clip = render(spec)
        path = folder / f"clip{i:03d}.mp4"
        write_video(clip.frames, path)
        jobs.append(Job("bench", spec.face, path.stem, path=str(path), aus=tuple(clip.au_names),
                        emotion=clip.emotion, composite=clip.composite))
    return jobs


def pool_startup(workers: int) -> float:
    """Seconds until `workers` fresh spawned workers have started and loaded their models."""
    from multiprocessing import get_context

    from deft.instruct.build import start_worker

    start = time.perf_counter()
    with get_context("spawn").Pool(workers, initializer=start_worker) as pool:
        pool.map(abs, range(workers))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=96)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        jobs = file_jobs(args.clips, tmp_path)
        build(jobs[:1], tmp_path / "warmup", progress=False)  # load dlib models once
        rates = {}
        for workers in (1, 2):
            start = time.perf_counter()
            summary = build(jobs, tmp_path / f"out{workers}", workers=workers, progress=False)
            elapsed = time.perf_counter() - start
            rates[workers] = len(jobs) / elapsed
            print(f"workers={workers}: {len(jobs)} clips in {elapsed:.2f} s = {rates[workers]:.2f} clips/s "
                  f"({summary['kept']} kept, {summary['records']} records)")
        print(f"pool start-up (2 spawned workers, models loaded): {pool_startup(2):.2f} s")
        print(f"speed-up 2 vs 1 workers: {rates[2] / rates[1]:.2f}x")
        best = max(rates.values())
        print(f"target >= {TARGET_CLIPS_PER_S:.0f} clips/s: {'PASS' if best >= TARGET_CLIPS_PER_S else 'FAIL'} ({best:.2f})")


if __name__ == "__main__":
    main()
