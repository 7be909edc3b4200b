"""How today's `deft analyze` does on the realistic synthetic world, one row per fixed-seed clip set.

Each set (deft.data.world.clips.world_set: clean, pose, speech, blinks, lowres, compression, all) is
rendered and written as mp4 files, as a user would have them, with a truth JSON beside each; then
`deft.analyze.analyze` runs on every file. `old-clean` is the previous generator's clean set
(synthetic_set(40, seed=11), written with deft.video.write_video) for comparison.
Columns: AU F1 (macro, on the AUs the analyzer names, truth = the expression's AUs), composite UF1 and
UAR (over positive/negative/surprise/none), apex error (median |frames| over analysed expression clips,
share within +-2 with refused clips as misses), false-positive rates on distractor-only clips (any AU
fired; emotion not "none"), analyzer clips/s, clips refused.
--long times the speed target instead: a 60 s 640x480 long video (1 and 2 people) in <= 60 s.
Run: python benchmarks/bench_realism.py [--sets clean,pose] [--clips N] [--out DIR] [--long]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from deft.data.synthetic import render, synthetic_set
from deft.data.world.clips import SET_NAMES, render_clip, world_set, write_clip
from deft.eval.world_eval import Case, SetScore, analyze_cases, score
from deft.labels import NONE
from deft.video import write_video

OLD_CLEAN = "old-clean"
LONG_TARGET_S = 60.0


def load_note() -> str:
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


def write_world_set(name: str, n_clips: int, folder: Path) -> tuple[list[Case], float]:
    """Render a named set to folder/NAME/clipNNN.mp4 (+ .json truth); returns its cases and render seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    cases, start = [], time.perf_counter()
    for i, spec in enumerate(world_set(name, n_clips)):
        clip = render_clip(spec)
        path = folder / f"clip{i:03d}.mp4"
        write_clip(clip, str(path))
        truth = clip.truth
        path.with_suffix(".json").write_text(json.dumps({"identity": spec.identity, "fps": spec.camera.fps,
                                                         "iod_px": spec.camera.iod_px, "crf": spec.camera.crf,
                                                         **truth.to_dict()}))
        cases.append(Case(str(path), frozenset(truth.aus), truth.composite, None if truth.phases is None else truth.phases[1]))
    return cases, time.perf_counter() - start


def write_old_clean(n_clips: int, folder: Path) -> tuple[list[Case], float]:
    """The previous generator's clean set, written the way `deft synth` used to write it."""
    folder.mkdir(parents=True, exist_ok=True)
    cases, start = [], time.perf_counter()
    for i, spec in enumerate(synthetic_set(n_clips, seed=11)):
        clip = render(spec)
        path = folder / f"clip{i:03d}.mp4"
        write_video(clip.frames, path)
        none = clip.composite == NONE
        cases.append(Case(str(path), frozenset(clip.au_names), clip.composite, None if none else spec.apex))
    return cases, time.perf_counter() - start


def print_table(scores: list[SetScore]) -> None:
    print(f"{'set':<12} {'clips':>5} {'AU F1':>6} {'UF1':>6} {'UAR':>6} {'apex|e|':>7} {'apex±2':>6} "
          f"{'FP AU':>6} {'FP emo':>6} {'clips/s':>7} {'refused':>7}")
    for s in scores:
        print(f"{s.name:<12} {s.n_clips:>5} {s.au_f1:>6.3f} {s.composite_uf1:>6.3f} {s.composite_uar:>6.3f} "
              f"{s.apex_median_abs:>7.1f} {s.apex_within_2:>6.2f} {s.fp_any_au:>6.2f} {s.fp_emotion:>6.2f} "
              f"{s.clips_per_s:>7.2f} {s.n_failed:>7}")


def bench_sets(names: list[str], n_clips: int, folder: Path) -> None:
    scores = []
    for name in names:
        if name == OLD_CLEAN:
            cases, render_s = write_old_clean(n_clips, folder / name)
        else:
            cases, render_s = write_world_set(name, n_clips, folder / name)
        rows, seconds = analyze_cases(cases)
        scores.append(score(name, rows, seconds))
        s = scores[-1]
        print(f"{name}: {len(cases)} clips rendered+written in {render_s:.1f} s; analysed at {s.clips_per_s:.2f} "
              f"clips/s; AU F1 {s.au_f1:.3f}, UF1 {s.composite_uf1:.3f}; {load_note()}", flush=True)
        for row in rows:
            if row["error"]:
                print(f"  refused {Path(row['case'].path).name}: {row['error'][:120]}")
    print()
    print_table(scores)


def bench_long(folder: Path) -> None:
    from deft.data.world.long import LongVideoSpec, write_long_video

    for people in (1, 2):
        spec = LongVideoSpec(duration_s=60.0, people=people, seed=5)
        path = folder / f"long_{people}.mp4"
        start, cpu = time.perf_counter(), time.process_time()
        truth = write_long_video(path, spec)
        wall = time.perf_counter() - start
        n_events = sum(len(f["events"]) for f in truth["faces"])
        print(f"60 s 640x480 long video, {people} person(s): {wall:.1f} s wall ({time.process_time() - cpu:.1f} s CPU), "
              f"{truth['n_frames']} frames, {n_events} events, {path.stat().st_size / 1e6:.1f} MB; target <= "
              f"{LONG_TARGET_S:.0f} s: {'PASS' if wall <= LONG_TARGET_S else 'FAIL'}; {load_note()}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join((OLD_CLEAN, *SET_NAMES)),
                        help=f"comma-separated subset of {OLD_CLEAN},{','.join(SET_NAMES)}")
    parser.add_argument("--clips", type=int, default=40, help="clips per set (the sets are defined at 40)")
    parser.add_argument("--out", default=None, help="keep the written clips here (default: a temporary folder)")
    parser.add_argument("--long", action="store_true", help="time 60 s 640x480 long videos instead")
    args = parser.parse_args()
    names = [n for n in args.sets.split(",") if n]
    unknown = set(names) - {OLD_CLEAN, *SET_NAMES}
    if unknown:
        parser.error(f"unknown set(s) {sorted(unknown)}")
    print(f"== start: {load_note()}")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.out or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        bench_long(folder) if args.long else bench_sets(names, args.clips, folder)
    print(f"total {time.perf_counter() - start:.0f} s; at the end {load_note()}")


if __name__ == "__main__":
    main()
