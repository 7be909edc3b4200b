"""Speed, accuracy and memory of `deft analyze` (the perception pipeline), DIS vs TV-L1 flow.

What it measures, on synthetic 30-frame 256x256 clips of known truth (synthetic_set(N, seed=1)):
  1. speed: median seconds per clip of analyze(file) for DIS and TV-L1 (rendering not timed, one
     warm-up call per method first so model loading is not counted), their ratio, and median
     per-stage times (read, face, phases, flow, aus). Target: <= 0.3 s/clip with DIS.
  2. accuracy: AU F1, composite UF1/UAR and apex-within-2 share from deft.eval.synthetic_eval on
     the same spec family (--acc-clips specs). Target: |AU F1 (DIS) - AU F1 (TV-L1)| <= 0.02.
  3. memory: peak RSS of the real CLI `deft analyze FILE --json` on one clip (target <= 1024 MiB),
     peak RSS of `deft analyze DIR --json` on a folder of M clips, and RSS growth of an in-process
     loop of M analyze() calls in a fresh interpreter, between clip 10 and clip M (target < 50 MiB).
Run: python benchmarks/bench_analyze.py [--clips N] [--batch M] [--acc-clips K]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deft.analyze import AnalyzeConfig, analyze
from deft.data.synthetic import render, synthetic_set
from deft.eval.synthetic_eval import evaluate
from deft.video import write_video

METHODS = ("dis", "tvl1")
STAGES = ("read", "face", "track", "phases", "flow", "aus")
TARGET_DIS_S = 0.3
TARGET_F1_DIFF = 0.02
TARGET_PEAK_MIB = 1024.0
TARGET_GROWTH_MIB = 50.0

# Runs in a fresh interpreter: analyze every file given, report VmRSS (MiB) after clip 10 and the last.
RSS_LOOP = r"""
import json, sys
from deft.analyze import AnalyzeConfig, analyze
def status_mib(key):  # VmHWM, not ru_maxrss: the latter keeps the forking parent's peak across exec
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
rss, config = {}, AnalyzeConfig(flow="dis")
for i, path in enumerate(sys.argv[1:], 1):
    analyze(path, config)
    if i in (1, 10, len(sys.argv) - 1):
        rss[i] = status_mib("VmRSS")
print(json.dumps({"rss": rss, "peak_mib": status_mib("VmHWM")}))
"""


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def render_files(n: int, folder: Path) -> list[Path]:
    """Render synthetic_set(n, seed=1) to clipNNN.mp4 files in `folder`."""
    paths = []
    for i, spec in enumerate(synthetic_set(n, seed=1)):
        path = folder / f"clip{i:03d}.mp4"
        write_video(render(spec).frames, path)
        paths.append(path)
    return paths


def bench_speed(paths: list[Path]) -> dict[str, float]:
    """Print median total and per-stage seconds per clip for each flow method; return the totals."""
    totals: dict[str, float] = {}
    for method in METHODS:
        config = AnalyzeConfig(flow=method)
        analyze(paths[0], config)  # warm-up: face models and flow objects load here, not timed
        walls, cpus, stages = [], [], {s: [] for s in STAGES}
        for path in paths:
            start, cpu = time.perf_counter(), time.process_time()
            result = analyze(path, config)
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
            for s in STAGES:
                stages[s].append(result.timings.get(s, 0.0))
        totals[method] = statistics.median(walls)
        print(f"{method}: median {totals[method]:.3f} s/clip over {len(paths)} clips "
              f"(min {min(walls):.3f}, max {max(walls):.3f}; median CPU {statistics.median(cpus):.3f} s)")
        print(f"{method} stages (median s): "
              + ", ".join(f"{s} {statistics.median(stages[s]):.4f}" for s in STAGES))
    print(f"ratio TV-L1/DIS: {totals['tvl1'] / totals['dis']:.2f}x")
    print(f"target <= {TARGET_DIS_S} s/clip with DIS: {verdict(totals['dis'] <= TARGET_DIS_S)} ({totals['dis']:.3f})")
    return totals


def bench_accuracy(n: int) -> dict[str, float]:
    """Print synthetic-eval metrics per flow method and the AU F1 gap; return AU F1 per method."""
    specs = synthetic_set(n, seed=1)
    f1: dict[str, float] = {}
    for method in METHODS:
        rep = evaluate(specs, AnalyzeConfig(flow=method))
        f1[method] = rep.au_f1
        print(f"{method}: AU F1 {rep.au_f1:.3f}, composite UF1 {rep.composite_uf1:.3f}, UAR {rep.composite_uar:.3f}, "
              f"apex within 2 {rep.apex_within_2:.2f}, {rep.seconds_per_clip:.3f} s/clip (in memory, mean), "
              f"{rep.n_clips} clips")
    diff = f1["dis"] - f1["tvl1"]
    print(f"AU F1 DIS - TV-L1: {diff:+.3f}; target |diff| <= {TARGET_F1_DIFF}: {verdict(abs(diff) <= TARGET_F1_DIFF)}")
    return f1


def deft_cli() -> list[str]:
    """The installed `deft` console script (next to this interpreter, else on PATH)."""
    beside = Path(sys.executable).parent / "deft"
    found = str(beside) if beside.exists() else shutil.which("deft")
    if not found:
        raise SystemExit("the `deft` command is not installed (pip install -e .)")
    return [found]


def peak_rss_mib(cmd: list[str]) -> float:
    """Peak RSS (MiB) of a command: /usr/bin/time -v if present, else getrusage in a wrapper process."""
    if os.path.exists("/usr/bin/time"):
        proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        kib = int(match.group(1)) if match else None
    else:
        wrapper = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True); "
                   "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        proc = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True)
        rc, kib_text = proc.stdout.split()
        proc.returncode, kib = int(rc), int(kib_text)
    if proc.returncode != 0 or kib is None:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return kib / 1024


def bench_memory(paths: list[Path], batch: int, folder: Path) -> tuple[float, float]:
    """Print CLI peak RSS on one clip and on a batch folder, and in-process RSS growth over `batch` clips."""
    single = peak_rss_mib([*deft_cli(), "analyze", str(paths[0]), "--json"])
    print(f"peak RSS, deft analyze FILE --json: {single:.0f} MiB; "
          f"target <= {TARGET_PEAK_MIB:.0f} MiB: {verdict(single <= TARGET_PEAK_MIB)}")
    batch_dir = folder / "batch"
    batch_dir.mkdir()
    for i in range(batch):  # the same few rendered files under many names
        (batch_dir / f"b{i:04d}.mp4").symlink_to(paths[i % len(paths)].resolve())
    start = time.perf_counter()
    batch_peak = peak_rss_mib([*deft_cli(), "analyze", str(batch_dir), "--json"])
    print(f"peak RSS, deft analyze DIR --json on {batch} clips: {batch_peak:.0f} MiB "
          f"({time.perf_counter() - start:.1f} s wall, including start-up)")
    files = sorted(str(p) for p in batch_dir.iterdir())
    proc = subprocess.run([sys.executable, "-c", RSS_LOOP, *files], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"in-process RSS loop failed:\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    rss = {int(k): v for k, v in out["rss"].items()}
    first, last = min(10, batch), batch
    growth = rss[last] - rss[first]
    print(f"in-process RSS: {rss[1]:.0f} MiB after clip 1, {rss[first]:.0f} MiB after clip {first}, "
          f"{rss[last]:.0f} MiB after clip {last} (peak {out['peak_mib']:.0f} MiB)")
    per_clip_kib = growth * 1024 / max(last - first, 1)
    print(f"RSS growth clip {first} -> {last}: {growth:+.1f} MiB ({per_clip_kib:+.1f} KiB/clip); "
          f"flat: growth < {TARGET_GROWTH_MIB:.0f} MiB over {batch} clips: {verdict(growth < TARGET_GROWTH_MIB)}")
    return single, growth


def load_note() -> str:
    """1-minute load average vs cores: timings are only meaningful on an otherwise idle machine."""
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=12, help="rendered .mp4 clips timed per flow method")
    parser.add_argument("--acc-clips", type=int, default=40, help="synthetic specs scored per flow method")
    parser.add_argument("--batch", type=int, default=100, help="clips in the memory-flatness batch")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = render_files(args.clips, folder)
        print(f"== start: {load_note()}")
        print(f"== speed: {len(paths)} clips, 30 frames 256x256 mp4, synthetic_set({args.clips}, seed=1); "
              "one warm-up call per method not timed")
        speed = bench_speed(paths)
        print(f"\n== accuracy: synthetic_set({args.acc_clips}, seed=1), rendered in memory")
        f1 = bench_accuracy(args.acc_clips)
        print(f"\n== memory: CLI in subprocesses, batch of {args.batch} (symlinks to {len(paths)} files)")
        peak, growth = bench_memory(paths, args.batch, folder)
    diff = f1["dis"] - f1["tvl1"]
    print("\n== summary")
    print(f"DIS {speed['dis']:.3f} s/clip, TV-L1 {speed['tvl1']:.3f} s/clip ({speed['tvl1'] / speed['dis']:.2f}x): "
          f"<= {TARGET_DIS_S} s {verdict(speed['dis'] <= TARGET_DIS_S)}")
    print(f"AU F1 DIS {f1['dis']:.3f} vs TV-L1 {f1['tvl1']:.3f} (diff {diff:+.3f}): "
          f"|diff| <= {TARGET_F1_DIFF} {verdict(abs(diff) <= TARGET_F1_DIFF)}")
    print(f"peak RSS one clip {peak:.0f} MiB: <= {TARGET_PEAK_MIB:.0f} MiB {verdict(peak <= TARGET_PEAK_MIB)}")
    print(f"RSS growth over {args.batch} clips {growth:+.1f} MiB: < {TARGET_GROWTH_MIB:.0f} MiB "
          f"{verdict(growth < TARGET_GROWTH_MIB)}")
    print(f"total benchmark time {time.perf_counter() - start:.0f} s; at the end {load_note()}")


if __name__ == "__main__":
    main()
