"""How today's `deft analyze` does on the realistic synthetic world, one row per fixed-seed clip set.

Each set (deft.data.world.clips.world_set: clean, pose, speech, blinks, lowres, compression, all) is
rendered and written as mp4 files, as a user would have them, with a truth JSON beside each; then
`deft.analyze.analyze` runs on every file. `old-clean` is the previous generator's clean set
(synthetic_set(40, seed=11), written with deft.video.write_video) for comparison.
Columns: AU F1 (macro, on the AUs the analyzer names, truth = the expression's AUs), composite UF1 and
UAR (over positive/negative/surprise/none), apex error (median |frames| over analysed expression clips,
share within +-2 with refused clips as misses), false-positive rates on distractor-only clips (any AU
fired; emotion not "none"; FP: either), analyzer clips/s, clips refused; then ordinary motion: the F1 of its
AUs (AU5, AU25, AU26, AU45, AU46) against the world's own truth, and per kind (surprise, blink, wink, speech,
widen) the share of clips that come out as what they are, and the share of clips without it where it was found;
eyelid events one by one (blink, wink, widen, closed): the share of true events found and false events per clip,
of the events deft states and (in brackets) of all it found, unsure ones too;
then per world set and pooled: ECE (10 bins) of every AU rule's confidence against whether that AU moved in
some event of the clip (expression or ordinary motion), the reliability table and diagram (--diagram PNG).
--reuse analyses the clips already written in --out (same set and clip count) instead of rendering them again.
--long times the speed target instead: a 60 s 640x480 long video (1 and 2 people) in <= 60 s.
Run: python benchmarks/bench_realism.py [--sets clean,pose] [--clips N] [--out DIR [--reuse]] [--diagram PNG]
     [--seed-shift N] [--long]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from deft.data.synthetic import render, synthetic_set
from deft.data.world.clips import SET_NAMES, SET_SEEDS, render_clip, world_set, write_clip
from deft.eval.calibration import moved_aus, reliability_diagram, reliability_text
from deft.eval.world_eval import EYE_KINDS, PER_KIND, Case, SetScore, analyze_cases, case_of, score
from deft.labels import NONE
from deft.video import write_video

OLD_CLEAN = "old-clean"
LONG_TARGET_S = 60.0


def load_note() -> str:
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


def write_world_set(name: str, n_clips: int, folder: Path, seed: int | None = None,
                    reuse: bool = False) -> tuple[list[Case], float]:
    """Render a named set to folder/clipNNN.mp4 (+ .json truth); returns its cases and render seconds.

    `seed` draws other clips of the set's kind (world_set); `reuse` keeps a clip already written from the same spec seed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    cases, start = [], time.perf_counter()
    for i, spec in enumerate(world_set(name, n_clips, seed=seed)):
        path = folder / f"clip{i:03d}.mp4"
        known = json.loads(path.with_suffix(".json").read_text()) if reuse and path.with_suffix(".json").exists() else {}
        if not (path.exists() and known.get("seed") == spec.seed):
            clip = render_clip(spec)
            write_clip(clip, str(path), reproducible=True)  # the same bytes every run
            known = {"identity": spec.identity, "seed": spec.seed, "fps": spec.camera.fps, "iod_px": spec.camera.iod_px,
                     "crf": spec.camera.crf, **clip.truth.to_dict()}
            path.with_suffix(".json").write_text(json.dumps(known))
        cases.append(case_of(str(path), known))
    return cases, time.perf_counter() - start


def read_world_set(n_clips: int, folder: Path) -> tuple[list[Case], float]:
    """The cases of a set written before by write_world_set (clip files and truth JSON), none rendered."""
    paths = [folder / f"clip{i:03d}.mp4" for i in range(n_clips)]
    missing = [p.name for p in paths if not (p.exists() and p.with_suffix(".json").exists())]
    if missing:
        raise SystemExit(f"--reuse: {folder} lacks {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}; "
                         "run once without --reuse")
    return [case_of(str(p), json.loads(p.with_suffix(".json").read_text())) for p in paths], 0.0


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
    print()
    print(f"{'set':<12} {'FP':>5} {'ord F1':>6} " + " ".join(f"{k:>8}" for k in PER_KIND) + "   found where absent")
    for s in scores:
        shares = " ".join(f"{s.as_what_it_is[k]:>8.2f}" for k in PER_KIND)
        false = " ".join(f"{k} {v:.2f}" for k, v in s.ordinary_false.items() if v == v)
        print(f"{s.name:<12} {s.fp:>5.2f} {s.ordinary_au_f1:>6.3f} {shares}   {false}")
    print()
    print("eyelid events one by one, stated (found, unsure ones too): recall of the true events, false events per clip")
    print(f"{'set':<12} " + " ".join(f"{k + ' rec':>16} {k + ' false':>18}" for k in EYE_KINDS[:-1])
          + f" {EYE_KINDS[-1] + ' false':>18}")  # the world films no eyes held closed: every one is false
    for s in scores:
        cells = [f"{s.eye_stated[k][0]:>7.2f} ({s.eye_found[k][0]:>5.2f})   {s.eye_stated[k][1]:>7.2f} ({s.eye_found[k][1]:>5.2f})"
                 for k in EYE_KINDS[:-1]] + [f"   {s.eye_stated['closed'][1]:>7.2f} ({s.eye_found['closed'][1]:>5.2f})"]
        print(f"{s.name:<12} " + "  ".join(cells))
    print()
    print("honest none (deft.detection_limit): expression clips where no expression AU was found said inconclusive; "
          "distractor-only clips said inconclusive; true expression AUs found when they moved >= / < their clip's limit")
    print(f"{'set':<12} {'missed->inc':>11} {'distr->inc':>10} {'found>=lim':>10} {'found<lim':>9}")
    for s in scores:
        print(f"{s.name:<12} {s.missed_inconclusive:>11.2f} {s.distractor_inconclusive:>10.2f} {s.found_above_limit:>10.2f} "
              f"{s.found_below_limit:>9.2f}")


def confidence_pairs(rows: list[dict]) -> tuple[list[float], list[bool]]:
    """(confidence, moved) per (clip, AU rule) of analysed clips: did the AU move in some event of the clip."""
    pairs = [(c, au in moved_aus(r["case"])) for r in rows for au, c in r["confidence"].items()]
    return [c for c, _ in pairs], [m for _, m in pairs]


def bench_sets(names: list[str], n_clips: int, folder: Path, reuse: bool = False,
               diagram: str = "reliability.png", seed_shift: int = 0) -> None:
    scores, curves = [], {}
    for name in names:
        if name == OLD_CLEAN:
            cases, render_s = write_old_clean(n_clips, folder / name)
        elif reuse:
            cases, render_s = read_world_set(n_clips, folder / name)
        else:
            cases, render_s = write_world_set(name, n_clips, folder / name,
                                              SET_SEEDS[name] + seed_shift if seed_shift else None)
        rows, seconds = analyze_cases(cases)
        scores.append(score(name, rows, seconds))
        s = scores[-1]
        print(f"{name}: {len(cases)} clips rendered+written in {render_s:.1f} s; analysed at {s.clips_per_s:.2f} "
              f"clips/s; AU F1 {s.au_f1:.3f}, UF1 {s.composite_uf1:.3f}; {load_note()}", flush=True)
        for row in rows:
            if row["error"]:
                print(f"  refused {Path(row['case'].path).name}: {row['error'][:120]}")
        if name != OLD_CLEAN:
            curves[name] = confidence_pairs(rows)
    print()
    print_table(scores)
    if curves:
        pooled = ([c for conf, _ in curves.values() for c in conf], [m for _, moved in curves.values() for m in moved])
        print()
        for name, (conf, moved) in {**curves, "pooled": pooled}.items():
            print(reliability_text(conf, moved, f"AU confidence, {name}"), "\n")
        reliability_diagram({**curves, "pooled": pooled}, diagram)
        print(f"reliability diagram: {diagram}")


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
    parser.add_argument("--reuse", action="store_true", help="analyse the world clips already in --out")
    parser.add_argument("--diagram", default="reliability.png", help="where to write the reliability diagram (PNG)")
    parser.add_argument("--long", action="store_true", help="time 60 s 640x480 long videos instead")
    parser.add_argument("--seed-shift", type=int, default=0,
                        help="draw other clips of each set (its seed + N, e.g. 777): a dev set to tune on, not the benchmark")
    args = parser.parse_args()
    names = [n for n in args.sets.split(",") if n]
    unknown = set(names) - {OLD_CLEAN, *SET_NAMES}
    if unknown:
        parser.error(f"unknown set(s) {sorted(unknown)}")
    if args.reuse and not args.out:
        parser.error("--reuse needs --out DIR (where the clips were written)")
    print(f"== start: {load_note()}")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.out or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        bench_long(folder) if args.long else bench_sets(names, args.clips, folder, args.reuse, args.diagram,
                                                                         args.seed_shift)
    print(f"total {time.perf_counter() - start:.0f} s; at the end {load_note()}")


if __name__ == "__main__":
    main()
