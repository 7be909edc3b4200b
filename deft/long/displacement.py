"""Per-region displacement against a local baseline, from a face's lagged motion series.

`FaceSeries.motion` holds motion of frame t against frame t - lag. Summing it along each chain of frames
lag apart gives every region's position over time (up to a constant per chain); a rolling median over a
window longer than any expression is the local neutral face, so position minus baseline is how far each
region has moved from rest: rising to the apex and back over an expression, ~0 between.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter

from deft.long.series import FaceSeries

BASELINE_SAMPLES = 24  # the rolling median is taken on this many points per window, then interpolated


def series_step(series: FaceSeries) -> int:
    """Source frames between consecutive rows of the series (1 when every frame was tracked)."""
    if len(series.frames) < 2:
        return 1
    return max(1, int(np.median(np.diff(series.frames))))


def positions(series: FaceSeries) -> tuple[np.ndarray, np.ndarray, int]:
    """(n, R, 2) cumulative motion per chain of rows `lag` apart, the (n,) valid mask and the row lag.

    Rows whose motion is unknown (NaN: face lost) add nothing, so a chain holds its last position.
    """
    motion = np.asarray(series.motion, np.float64)
    valid = np.isfinite(motion).all(axis=(1, 2))
    lag = max(1, int(round(series.lag / series_step(series))))
    steps = np.where(np.isfinite(motion), motion, 0.0)
    pos = np.empty_like(steps)
    for c in range(min(lag, len(steps))):
        pos[c::lag] = np.cumsum(steps[c::lag], axis=0)
    return pos, valid, lag


def _rolling_median(x: np.ndarray, window: int) -> np.ndarray:
    """Median of `x` (n, ...) over `window` rows centred on each row, on a subsample, interpolated back."""
    n = len(x)
    if n == 0:
        return x.copy()
    stride = max(1, window // BASELINE_SAMPLES)
    coarse = x[::stride]
    size = max(1, window // stride) | 1
    med = median_filter(coarse, size=(size,) + (1,) * (x.ndim - 1), mode="nearest")
    at = np.arange(0, n, stride)
    flat = med.reshape(len(at), -1)
    out = np.stack([np.interp(np.arange(n), at, flat[:, j]) for j in range(flat.shape[1])], axis=1)
    return out.reshape(x.shape)


def displacement(series: FaceSeries, baseline_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, R, 2) displacement of every region from its local baseline (IOD) and the (n,) valid mask.

    Each chain is detrended on its own: the chains' constants and drifts differ.
    """
    pos, valid, lag = positions(series)
    out = np.zeros_like(pos)
    for c in range(min(lag, len(pos))):
        chain = pos[c::lag]
        out[c::lag] = chain - _rolling_median(chain, max(3, baseline_rows // lag))
    return out, valid
