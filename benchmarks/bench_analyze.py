"""Speed, accuracy and memory of `deft analyze` (the perception pipeline), DIS vs TV-L1 flow.

What it measures, on synthetic 30-frame 256x256 clips of known truth (synthetic_set(N, seed=1)):
  1. speed: median seconds per clip of analyze(file) for DIS and TV-L1 (rendering not timed, one
     warm-up call per method first so model loading is not counted), their ratio, and median
     per-stage times (read, face, track, ordinary, phases, flow, aus); wall and CPU seconds
     (time.process_time: what the clip cost whatever else the machine runs). In the same run, clip by
     clip alternating with today's default, the pipeline as issue 18 was filed: one clip-wide alignment
     (register "none"), no tracking or pose, no ordinary-motion separation, rules-only confidence, no
     quality or reliability; the ratio of the two medians. Targets: <= 0.3 s/clip with DIS as filed,
     <= 0.5 s/clip with today's default (issue 18, 2 cores).
  2. accuracy: AU F1, composite UF1/UAR and apex-within-2 share from deft.eval.synthetic_eval on
     the same spec family (--acc-clips specs). Target: |AU F1 (DIS) - AU F1 (TV-L1)| <= 0.02.
  3. memory: peak RSS of the real CLI `deft analyze FILE --json` on one clip (target <= 1024 MiB),
     peak RSS of `deft analyze DIR --json` on a folder of M clips, and RSS after each of M analyze()
     calls in a fresh interpreter: its growth between clip 10 and clip M (target < 50 MiB) and range.
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
from typing import Callable

import numpy as np

from deft.analyze import AnalyzeConfig, analyze
from deft.aus import detect_aus
from deft.data.synthetic import render, synthetic_set
from deft.emotion import Emotion, classify_emotion
from deft.eval.synthetic_eval import evaluate_configs
from deft.face import align_face
from deft.motion.flow import compute_flow, optical_strain, remove_head_motion, to_gray
from deft.motion.phases import find_phases
from deft.motion.regions import describe_regions
from deft.video import read_video, write_video

METHODS = ("dis", "tvl1")
STAGES = ("read", "face", "track", "ordinary", "phases", "flow", "aus")
TARGET_DIS_S = 0.3  # the pipeline as issue 18 was filed
TARGET_FULL_S = 0.5  # issue 18: today's default, on 2 cores
TARGET_F1_DIFF = 0.02
TARGET_PEAK_MIB = 1024.0
TARGET_GROWTH_MIB = 50.0

# Runs in a fresh interpreter: analyze every file given, report VmRSS (MiB) after each clip and the peak.
RSS_LOOP = r"""
import json, sys
from deft.analyze import AnalyzeConfig, analyze
def status_mib(key):  # VmHWM, not ru_maxrss: the latter keeps the forking parent's peak across exec
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
rss, config = [], AnalyzeConfig(flow="dis")
for path in sys.argv[1:]:
    analyze(path, config)
    rss.append(status_mib("VmRSS"))
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


def analyze_as_filed(path: Path, config: AnalyzeConfig) -> Emotion:
    """The pipeline as issue 18 was filed: one alignment for the clip, onset->apex flow on its crops, the AU
    rules' own confidence; no tracking, pose, ordinary motion, registration, quality or calibration."""
    video = read_video(path, config.limits, config.step)
    face = align_face(video.frames, config.face, video.source)
    gray = np.stack([to_gray(c) for c in face.crops])
    ph = find_phases(gray, face.landmarks, face.iod, None, video.source)
    flow = remove_head_motion(compute_flow(gray[ph.onset], gray[ph.apex], config.flow), face.landmarks, face.iod)
    regions = describe_regions(flow, optical_strain(flow), face.landmarks, face.iod)
    return classify_emotion(detect_aus(regions, face.iod))


def time_calls(fns: dict[str, Callable[[Path], object]], paths: list[Path]) -> dict[str, tuple[float, float, list]]:
    """Per function: median wall and CPU seconds of fn(path) over paths, and each call's result. The functions
    take turns clip by clip, so a change in the machine's load weighs on all of them alike."""
    walls, cpus, results = ({name: [] for name in fns} for _ in range(3))
    for path in paths:
        for name, fn in fns.items():
            start, cpu = time.perf_counter(), time.process_time()
            results[name].append(fn(path))
            walls[name].append(time.perf_counter() - start)
            cpus[name].append(time.process_time() - cpu)
    return {name: (statistics.median(walls[name]), statistics.median(cpus[name]), results[name]) for name in fns}


def bench_speed(paths: list[Path]) -> dict[str, float]:
    """Print median wall and CPU seconds per clip and per stage for each flow method, and for DIS the pipeline
    as issue 18 was filed, timed in turn with it; return the wall and CPU medians."""
    totals: dict[str, float] = {}
    for method in METHODS:
        config = AnalyzeConfig(flow=method)
        analyze(paths[0], config)  # warm-up: face models and flow objects load here, not timed
        fns: dict[str, Callable[[Path], object]] = {method: lambda p: analyze(p, config)}
        if method == "dis":
            fns["as_filed"] = lambda p: analyze_as_filed(p, config)
        timed = time_calls(fns, paths)
        wall, cpu, results = timed[method]
        totals[method], totals[f"{method}_cpu"] = wall, cpu
        print(f"{method}: median {wall:.3f} s/clip over {len(paths)} clips (median CPU {cpu:.3f} s); {load_note()}")
        print(f"{method} stages (median s): "
              + ", ".join(f"{s} {statistics.median(r.timings.get(s, 0.0) for r in results):.4f}" for s in STAGES))
        if method == "dis":
            old_wall, old_cpu, _ = timed["as_filed"]
            totals["as_filed"], totals["as_filed_cpu"] = old_wall, old_cpu
            print(f"dis as issue 18 was filed (register none, no tracking/ordinary, rules-only confidence): "
                  f"median {old_wall:.3f} s/clip (CPU {old_cpu:.3f} s); today / as filed: wall "
                  f"{wall / old_wall:.2f}x, CPU {cpu / old_cpu:.2f}x")
    print(f"ratio TV-L1/DIS: {totals['tvl1'] / totals['dis']:.2f}x")
    print(f"target <= {TARGET_DIS_S} s/clip with DIS as filed: "
          f"{verdict(totals['as_filed'] <= TARGET_DIS_S)} ({totals['as_filed']:.3f})")
    print(f"target <= {TARGET_FULL_S} s/clip with DIS, today's default: {verdict(totals['dis'] <= TARGET_FULL_S)} "
          f"(wall {totals['dis']:.3f}, CPU {totals['dis_cpu']:.3f})")
    return totals


def bench_accuracy(n: int) -> dict[str, float]:
    """Print synthetic-eval metrics per flow method and the AU F1 gap; return AU F1 per method."""
    f1: dict[str, float] = {}
    reports = evaluate_configs(synthetic_set(n, seed=1), [AnalyzeConfig(flow=m) for m in METHODS])
    for method, rep in zip(METHODS, reports):
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
    rss = np.array(out["rss"])  # rss[i]: after clip i + 1
    first, last = min(10, batch), batch
    growth = float(rss[last - 1] - rss[first - 1])
    after = rss[first - 1:]
    marks = sorted({1, first, *range(25, last, 25), last})
    print("in-process RSS after clip " + ", ".join(f"{i}: {rss[i - 1]:.0f}" for i in marks)
          + f" MiB (peak {out['peak_mib']:.0f} MiB)")
    slope = np.polyfit(np.arange(first, last + 1), after, 1)[0] * 1024 if len(after) > 1 else 0.0
    print(f"RSS clip {first} -> {last}: growth {growth:+.1f} MiB, range {after.min():.0f}-{after.max():.0f} MiB, "
          f"fitted slope {slope:+.1f} KiB/clip; flat: growth < {TARGET_GROWTH_MIB:.0f} MiB over {batch} clips: "
          f"{verdict(growth < TARGET_GROWTH_MIB)}")
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
    print(f"DIS {speed['dis']:.3f} s/clip, CPU {speed['dis_cpu']:.3f} s (as filed {speed['as_filed']:.3f} s, CPU "
          f"{speed['as_filed_cpu']:.3f} s: {speed['dis'] / speed['as_filed']:.2f}x wall, "
          f"{speed['dis_cpu'] / speed['as_filed_cpu']:.2f}x CPU), TV-L1 {speed['tvl1']:.3f} s/clip "
          f"({speed['tvl1'] / speed['dis']:.2f}x): <= {TARGET_FULL_S} s {verdict(speed['dis'] <= TARGET_FULL_S)}")
    print(f"AU F1 DIS {f1['dis']:.3f} vs TV-L1 {f1['tvl1']:.3f} (diff {diff:+.3f}): "
          f"|diff| <= {TARGET_F1_DIFF} {verdict(abs(diff) <= TARGET_F1_DIFF)}")
    print(f"peak RSS one clip {peak:.0f} MiB: <= {TARGET_PEAK_MIB:.0f} MiB {verdict(peak <= TARGET_PEAK_MIB)}")
    print(f"RSS growth over {args.batch} clips {growth:+.1f} MiB: < {TARGET_GROWTH_MIB:.0f} MiB "
          f"{verdict(growth < TARGET_GROWTH_MIB)}")
    print(f"total benchmark time {time.perf_counter() - start:.0f} s; at the end {load_note()}")


if __name__ == "__main__":
    main()
