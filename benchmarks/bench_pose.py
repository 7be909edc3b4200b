"""Per-frame head pose and tracking of `deft analyze` against the realistic world's truth.

Each clip of a fixed-seed world set (deft.data.world.clips.world_set; default: pose and all) is written as
mp4 (as a user would have it) and analysed by deft.analyze.analyze; its per-frame pose is compared with
the renderer's yaw/pitch/roll. Columns per set and angle: median and 90th percentile |error| in degrees,
absolute and with each clip's median error removed ("rel": the identity's own face shape differs from the
mean 3D face, a constant offset per clip that a pose *change* does not see); "floor" is the same on the
renderer's true landmarks (the mean-face model's share of the error). Then the share of frames lost,
HOG detections per 30 frames, the tracking stage's seconds per 30 frames (median) and the whole
analyze() per 30 frames, clips refused, and the measured vs true out-of-plane pose range per clip with the
share of clips given the head-turn warning.
Run: python benchmarks/bench_pose.py [--sets pose,all] [--clips N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from deft.analyze import analyze
from deft.data.world.clips import render_clip, world_set, write_clip
from deft.errors import DeftError
from deft.tracking import head_pose
from deft.tracking.quality import MAX_OUT_OF_PLANE_DEG, POSE_NOISE_DEG

ANGLES = ("yaw", "pitch", "roll")


def _errors(measured: dict[str, np.ndarray], truth: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.asarray(measured[k], float) - np.asarray(truth[k], float) for k in ANGLES}


def _row(per_clip: list[dict[str, np.ndarray]], angle: str) -> tuple[float, float, float, float]:
    """median |err|, p90 |err|, and the same with each clip's median error removed."""
    err = [c[angle][np.isfinite(c[angle])] for c in per_clip]
    err = [e for e in err if len(e)]
    if not err:
        return (float("nan"),) * 4
    absolute = np.abs(np.concatenate(err))
    relative = np.abs(np.concatenate([e - np.median(e) for e in err]))
    return (float(np.median(absolute)), float(np.percentile(absolute, 90)),
            float(np.median(relative)), float(np.percentile(relative, 90)))


def run_set(name: str, n_clips: int, folder: Path) -> None:
    measured, floor, lost, frames, detections, track_s, total_s, refused = [], [], 0, 0, 0, [], [], 0
    turns, warned = [], 0  # per clip: measured and true max(yaw, pitch) range; clips with the head-turn warning
    for i, spec in enumerate(world_set(name, n_clips)):
        clip = render_clip(spec)
        path = folder / f"{name}{i:03d}.mp4"
        write_clip(clip, str(path))
        truth = {k: getattr(clip.truth, k) for k in ANGLES}
        floor.append(_errors(head_pose(clip.landmarks, (spec.camera.width, spec.camera.height)).angles(), truth))
        start = time.perf_counter()
        try:
            result = analyze(path)
        except DeftError:
            refused += 1
            continue
        per30 = 30.0 / result.n_frames
        total_s.append((time.perf_counter() - start) * per30)
        track_s.append(result.timings["track"] * per30)
        n = min(result.n_frames, len(clip.truth.yaw))
        got = {k: v[:n] for k, v in result.pose.angles().items()}
        measured.append(_errors(got, {k: v[:n] for k, v in truth.items()}))
        lost += int(result.tracked.lost.sum())
        turns.append((max(result.pose.range()["yaw"], result.pose.range()["pitch"]),
                      max(float(np.ptp(clip.truth.yaw)), float(np.ptp(clip.truth.pitch)))))
        warned += any("out of the image plane" in w for w in result.warnings)
        detections += int(result.tracked.detected.sum())
        frames += result.n_frames
    print(f"\n{name}: {n_clips} clips, {refused} refused, {frames} frames analysed")
    cols = f"{'med':>6} {'p90':>6} {'relmed':>7} {'relp90':>7}"
    print(f"{'angle':<6} {cols} | floor {cols}")
    for angle in ANGLES:
        m, f = _row(measured, angle), _row(floor, angle)
        print(f"{angle:<6} {m[0]:6.2f} {m[1]:6.2f} {m[2]:7.2f} {m[3]:7.2f} |       "
              f"{f[0]:6.2f} {f[1]:6.2f} {f[2]:7.2f} {f[3]:7.2f}")
    print(f"frames lost {lost / max(frames, 1):.2%}; HOG detections per 30 frames "
          f"{30 * detections / max(frames, 1):.1f}; track stage {np.median(track_s):.3f} s / 30 frames (median), "
          f"analyze() {np.median(total_s):.3f} s / 30 frames")
    got, true = np.array(turns).T if turns else (np.zeros(1), np.zeros(1))
    print(f"out-of-plane range per clip (max of yaw, pitch), measured: median {np.median(got):.1f}°, p90 "
          f"{np.percentile(got, 90):.1f}°; true: median {np.median(true):.1f}°, p90 {np.percentile(true, 90):.1f}°; "
          f"head-turn warning on {warned}/{len(turns)} clips (threshold {MAX_OUT_OF_PLANE_DEG + POSE_NOISE_DEG:.1f}°)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="pose,all")
    parser.add_argument("--clips", type=int, default=40)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    analyze(_warm_up_clip())  # model loading is not counted
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets.split(","):
            run_set(name, args.clips, Path(tmp))
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


def _warm_up_clip() -> str:
    clip = render_clip(world_set("clean", 1)[0])
    path = os.path.join(tempfile.mkdtemp(), "warm.mp4")
    write_clip(clip, path)
    return path


if __name__ == "__main__":
    main()
