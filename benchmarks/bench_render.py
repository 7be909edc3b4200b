"""Speed of the realistic world's renderer (deft.data.world), with the old synthetic.render as baseline.

What it measures (medians over --repeats runs, identity loading and mesh building not timed):
  1. a 30-frame 256x256 clip: render_face with head motion, a blink and a smile. Target <= 0.2 s.
  2. one face at 640x480: render_face per frame over --long-frames frames (pose, speech, blinks, walking
     closer, motion blur), then film() and write_mp4 (CRF 28) per frame. Target: render <= 20 ms/frame,
     so that a 60 s video (1800 frames at 30 fps) renders, films and encodes in <= 60 s.
  3. baseline: the old deft.data.synthetic.render of a 30-frame 256x256 clip.
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
    world = statistics.median(timed(lambda: render_face(ident, clip, small)) for _ in range(args.repeats))
    old = statistics.median(timed(lambda: render(SyntheticSpec(face="hopper"))) for _ in range(args.repeats))
    print(f"30-frame 256x256 clip: world render_face {world:.3f} s (target <= {TARGET_CLIP_S}) "
          f"{'PASS' if world <= TARGET_CLIP_S else 'FAIL'}; old synthetic.render {old:.3f} s")

    n = args.long_frames
    track = moving_track(n)
    for iod in (20.0, 61.0, 100.0):
        camera = Camera(width=640, height=480, iod_px=iod, motion_blur=0.5, flicker=0.02, light_drift=0.1, crf=28)
        per_frame = [timed(lambda t=t: render_face(ident, track, camera, t, t + 1)) for t in range(0, n, max(n // 60, 1))]
        start = time.perf_counter()
        frames = render_face(ident, track, camera).frames
        render_s = time.perf_counter() - start
        film_s = timed(lambda: film(frames, camera, 0, seed=1))
        filmed = film(frames, camera, 0, seed=1)
        with tempfile.TemporaryDirectory() as tmp:
            encode_s = timed(lambda: write_mp4(os.path.join(tmp, "v.mp4"), [filmed], camera))
        total_ms = (render_s + film_s + encode_s) / n * 1000
        print(f"640x480, IOD {iod:.0f} px, {n} frames: render {render_s / n * 1000:.1f} ms/frame "
              f"(median of single frames {statistics.median(per_frame) * 1000:.1f}), film {film_s / n * 1000:.1f}, "
              f"encode {encode_s / n * 1000:.1f}; all {total_ms:.1f} ms/frame -> 60 s video {total_ms * 1.8:.0f} s "
              f"(target render <= {TARGET_FRAME_MS} ms/frame, video <= {TARGET_MINUTE_S} s) "
              f"{'PASS' if total_ms * 1.8 <= TARGET_MINUTE_S else 'FAIL'}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
