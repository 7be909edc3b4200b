"""What an ordinary camera adds to clean rendered frames: lighting flicker and a slow lighting change,
sensor noise, and H.264 compression. Everything random is keyed by the absolute frame index and a seed,
so a long video filmed in chunks is the same as filmed at once."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from functools import lru_cache

import cv2
import numpy as np

from deft.data.world.track import Camera
from deft.errors import ConfigError

FLICKER_HZ = (1.5, 4.0)  # beat of mains flicker against the frame rate: a slow pulse, drawn per seed
JITTER_SHARE = 0.3  # part of the flicker that is frame-to-frame random rather than periodic
LOSSLESS_QP = 0  # crf None: x264 at qp 0 (lossless before yuv420p chroma subsampling)
X264_PRESET = "veryfast"


def light_gain(camera: Camera, index: np.ndarray, seed: int) -> np.ndarray:
    """Brightness multiplier of each absolute frame index: a slow raised-cosine change of
    `light_drift` over `light_period` seconds, times a flicker of relative amplitude `flicker`."""
    rng = np.random.default_rng([seed, 7919])
    hz, phase, slow_phase = rng.uniform(*FLICKER_HZ), rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi)
    seconds = np.asarray(index, np.float64) / camera.fps
    slow = camera.light_drift * (0.5 - 0.5 * np.cos(2 * np.pi * seconds / camera.light_period + slow_phase))
    jitter = np.array([np.random.default_rng([seed, int(i)]).uniform(-1, 1) for i in np.atleast_1d(index)])
    flick = camera.flicker * ((1 - JITTER_SHARE) * np.sin(2 * np.pi * hz * seconds + phase) + JITTER_SHARE * jitter)
    return (1 + slow) * (1 + flick)


def film(frames: np.ndarray, camera: Camera, first_frame: int, seed: int) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 as the camera sees them: lighting gain, then sensor noise (sigma
    `camera.noise` grey levels), both fixed by (seed, first_frame + i) for frame i."""
    index = np.arange(first_frame, first_frame + len(frames))
    gains = light_gain(camera, index, seed)
    out = np.empty_like(frames)
    size = frames[0].size if len(frames) else 0
    banks = _noise_banks(seed, size, float(camera.noise)) if camera.noise > 0 else None
    for i, (frame, gain) in enumerate(zip(frames, gains)):
        lit = cv2.LUT(frame, np.clip(np.arange(256) * gain + 0.5, 0, 255).astype(np.uint8))
        if banks is None:
            out[i] = lit
        else:  # integer arithmetic: a quarter of the memory traffic of float frames
            noisy = cv2.add(lit, _noise(banks, seed, int(index[i])).reshape(frame.shape), dtype=cv2.CV_16S)
            out[i] = cv2.convertScaleAbs(cv2.max(noisy, 0))  # saturates at 255
    return out


@lru_cache(maxsize=4)
def _noise_banks(seed: int, size: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Two buffers of normal noise rounded to grey levels, twice a frame long (drawing fresh noise for
    every frame costs more than rendering it). Each has sigma s with 2 (s^2 + 1/12) = sigma^2: the
    rounding adds 1/12 to the variance (Sheppard), so their sum has the camera's sigma."""
    s = np.sqrt(max(sigma**2 / 2 - 1 / 12, 0.0))
    rng = np.random.default_rng([seed, size, 2])
    return tuple(np.rint(rng.standard_normal(2 * size, dtype=np.float32) * s).astype(np.int16) for _ in range(2))


def _noise(banks: tuple[np.ndarray, np.ndarray], seed: int, index: int) -> np.ndarray:
    """One frame's noise: the sum of two bank windows at offsets drawn from (seed, index); two independent
    shifts, so no frame's noise is a translated copy of another's."""
    size = len(banks[0]) // 2
    o1, o2 = np.random.default_rng([seed, index, 1]).integers(0, size, 2)
    return cv2.add(banks[0][o1:o1 + size], banks[1][o2:o2 + size])


# x264 on its plain C code: with its assembly the macroblock-tree rate control gave other bytes (decoded pixels off by
# up to ~100 levels) from run to run, even on one thread, on small frames (every 160x160 clip of the world's `all`
# set: 13 of 40), so benchmark draws moved between runs of the same code. With these parameters the same rate control
# gives the same bytes every run (6 of 6 tried), at about twice the encode time (a world clip 0.09 -> 0.17 s). The
# benchmark and calibration sets are written so (bench_realism.write_world_set); `deft synth` and the tests keep
# x264's default, on whose clips deft's hard-clip tests were chosen (with this, three of them fail: notes of issue 18).
X264_REPRODUCIBLE = "asm=0"


def write_mp4(path: str, chunks: Iterable[np.ndarray], camera: Camera, x264_params: str = "") -> None:
    """Encode chunks of frames (T, H, W, 3) uint8 RGB as H.264 (libx264, yuv420p) at the camera's CRF
    (None: qp 0, near-lossless) and frame rate; `x264_params` e.g. X264_REPRODUCIBLE."""
    import av

    if camera.width % 2 or camera.height % 2:
        raise ConfigError(f"H.264 (yuv420p) needs an even frame size, got {camera.width}x{camera.height}")
    options = {"preset": X264_PRESET, **({"x264-params": x264_params} if x264_params else {})}
    options.update({"qp": str(LOSSLESS_QP)} if camera.crf is None else {"crf": str(int(camera.crf))})
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(camera.fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = camera.width, camera.height, "yuv420p"
        stream.options = options
        for chunk in chunks:
            for frame in chunk:
                if frame.shape != (camera.height, camera.width, 3):
                    raise ConfigError(f"{path}: frame of shape {frame.shape}, camera is {camera.width}x{camera.height}")
                container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode())
