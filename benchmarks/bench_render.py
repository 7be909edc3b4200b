"""Speed of the realistic world's renderer (deft.data.world), with the old synthetic.render as baseline.

What it measures (medians over --repeats runs, identity loading and mesh building not timed):
  1. a 30-frame 256x256 clip: render_face with head motion, a blink and a smile. Target <= 0.2 s.
  2. one face at 640x480, IOD 20 / 61 / 100 px: --long-frames frames (pose, speech, blinks, walking
     closer, motion blur) rendered, filmed and encoded (CRF 28) in chunks of 30, as a long video is; time
     per frame of each step. Targets: render <= 20 ms/frame; a 60 s video (1800 frames) <= 60 s.
  3. baseline: the old deft.data.synthetic.render of a 30-frame 256x256 clip.
Wall and CPU time (all threads of this process) are both printed: on a machine shared with other work,
CPU seconds bound what the wall time would be on idle cores. PASS takes the lower of the two.
Run: python benchmarks/bench_render.py [--repeats N] [--long-frames M]   (quote the load: `uptime`)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from deft.data.synthetic import SyntheticSpec, render
from deft.data.world.camera import film, write_mp4
from deft.data.world.identity import load_identity
from deft.data.world.render import render_face
from deft.data.world.track import Camera, FaceTrack

TARGET_CLIP_S = 0.2
TARGET_FRAME_MS = 20.0
TARGET_MINUTE_S = 60.0
CHUNK = 30  # frames rendered, filmed and encoded at a time


def moving_track(n: int, fps: float = 30.0) -> FaceTrack:
    """Head turning and nodding, walking closer, speaking, blinking every 3 s, smiling."""
    t = np.arange(n) / fps
    aus = {
        ("AU45", "both"): np.clip(1.0 - np.abs(((t + 1.0) % 3.0) - 0.15) / 0.15, 0, 1),
        ("AU26", "both"): 0.08 * np.clip(np.sin(2 * np.pi * 4.5 * t), 0, None),
        ("AU25", "both"): 0.03 * np.clip(np.sin(2 * np.pi * 4.5 * t), 0, None),
        ("AU12", "both"): 0.05 * (0.5 - 0.5 * np.cos(2 * np.pi * t / 7.0)),
    }
    centre = np.stack([0.5 + 0.05 * np.sin(2 * np.pi * t / 11.0), 0.45 + 0.02 * np.sin(2 * np.pi * t / 5.0)], 1)
    return FaceTrack(25 * np.sin(2 * np.pi * t / 6.0), 12 * np.sin(2 * np.pi * t / 4.3), 18 * np.sin(2 * np.pi * t / 9.0),
                     1.0 + 0.3 * (0.5 - 0.5 * np.cos(2 * np.pi * t / 20.0)), centre, aus)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cpu_timed(fn) -> float:
    """CPU seconds of this process (all threads): on a shared machine, a bound on the idle wall time."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--long-frames", type=int, default=300)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} (1 min), cores: {os.cpu_count()}")
    ident = load_identity("hopper")
    render_face(ident, moving_track(2), Camera(width=640, height=480))  # warm-up: mesh, pyramid

    clip = moving_track(30)
    small = Camera(width=256, height=256, iod_px=61, motion_blur=0.5)
    world = [statistics.median(f(lambda: render_face(ident, clip, small)) for _ in range(args.repeats))
             for f in (timed, cpu_timed)]
    old = [statistics.median(f(lambda: render(SyntheticSpec(face="hopper"))) for _ in range(args.repeats))
           for f in (timed, cpu_timed)]
    print(f"30-frame 256x256 clip: world render_face {world[0]:.3f} s wall, {world[1]:.3f} s CPU "
          f"(target <= {TARGET_CLIP_S}) {'PASS' if min(world) <= TARGET_CLIP_S else 'FAIL'}; "
          f"old synthetic.render {old[0]:.3f} s wall, {old[1]:.3f} s CPU")

    n = args.long_frames
    track = moving_track(n)
    for iod in (20.0, 61.0, 100.0):
        camera = Camera(width=640, height=480, iod_px=iod, motion_blur=0.5, flicker=0.02, light_drift=0.1, crf=28)
        spent = {"render": 0.0, "film": 0.0}

        def chunks():  # the long-video pipeline: render, film and encode chunk by chunk
            for first in range(0, n, CHUNK):
                start = time.perf_counter()
                frames = render_face(ident, track, camera, first, min(first + CHUNK, n)).frames
                middle = time.perf_counter()
                filmed = film(frames, camera, first, seed=1)
                spent["render"] += middle - start
                spent["film"] += time.perf_counter() - middle
                yield filmed

        with tempfile.TemporaryDirectory() as tmp:
            cpu = time.process_time()
            total = timed(lambda: write_mp4(os.path.join(tmp, "v.mp4"), chunks(), camera))
            cpu = time.process_time() - cpu
        ms = {k: v / n * 1000 for k, v in spent.items()}
        encode = (total - sum(spent.values())) / n * 1000
        minute, minute_cpu = total / n * 1800, cpu / n * 1800
        print(f"640x480, IOD {iod:.0f} px, {n} frames in chunks of {CHUNK}: render {ms['render']:.1f} ms/frame "
              f"(target <= {TARGET_FRAME_MS}), film {ms['film']:.1f}, encode {encode:.1f} (wall); "
              f"a 60 s video at 30 fps: {minute:.0f} s wall, {minute_cpu:.0f} s CPU (target <= {TARGET_MINUTE_S:.0f}) "
              f"{'PASS' if min(minute, minute_cpu) <= TARGET_MINUTE_S else 'FAIL'}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
