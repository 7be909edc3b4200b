"""Temporal smoothing of landmark tracks: a one-euro filter run forwards and backwards.

Why one-euro (Casiez et al., CHI 2012) rather than a Kalman filter: it needs no motion model (heads turn,
jaws drop, brows flick; no constant-velocity model fits all of them), it is two numbers to tune, and it is
adaptive: a still face gets a low cutoff (landmark jitter removed) while a fast motion opens the cutoff (a
brow flick is not flattened). A causal one-euro lags during motion; an analysed clip is at hand as a whole,
so the forward and backward passes are averaged, which cancels the lag to first order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SmoothConfig:
    min_cutoff_hz: float = 1.5  # cutoff of a still face: jitter above this is removed
    beta: float = 20.0  # cutoff rise (Hz) per IOD/s of landmark speed: fast motion passes unsmoothed
    d_cutoff_hz: float = 1.0  # cutoff of the speed estimate itself (the paper's default)


def _alpha(cutoff: np.ndarray | float, fps: float) -> np.ndarray | float:
    tau = 1.0 / (2 * np.pi * cutoff)
    return 1.0 / (1.0 + tau * fps)


def one_euro(points: np.ndarray, fps: float, iod: float, config: SmoothConfig = SmoothConfig()) -> np.ndarray:
    """Causal one-euro filter of (T, N, 2) points, every point adapting to its own speed (IOD/s)."""
    out = np.empty_like(points, dtype=np.float64)
    out[0] = x_hat = points[0].astype(np.float64)
    dx_hat = np.zeros(points.shape[1:])
    a_d = _alpha(config.d_cutoff_hz, fps)
    for t in range(1, len(points)):
        dx = (points[t] - x_hat) * fps
        dx_hat = a_d * dx + (1 - a_d) * dx_hat
        speed = np.linalg.norm(dx_hat, axis=-1, keepdims=True) / max(iod, 1e-6)
        a = _alpha(config.min_cutoff_hz + config.beta * speed, fps)
        x_hat = a * points[t] + (1 - a) * x_hat
        out[t] = x_hat
    return out


def smooth_track(points: np.ndarray, fps: float, iod: float, config: SmoothConfig = SmoothConfig()) -> np.ndarray:
    """Zero-lag smoothing of (T, N, 2) points: forward and backward one-euro passes averaged. Frames that
    are NaN (lost) split the track; each run of tracked frames is smoothed on its own."""
    out = np.full(points.shape, np.nan)
    ok = ~np.isnan(points).any(axis=(1, 2))
    t = 0
    while t < len(points):
        if not ok[t]:
            t += 1
            continue
        end = t
        while end < len(points) and ok[end]:
            end += 1
        run = points[t:end].astype(np.float64)
        forward = one_euro(run, fps, iod, config)
        backward = one_euro(run[::-1], fps, iod, config)[::-1]
        out[t:end] = (forward + backward) / 2
        t = end
    return out
