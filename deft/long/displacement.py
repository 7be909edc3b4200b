"""Per-region displacement against a local baseline, from a face's lagged motion series.

`FaceSeries.motion` holds motion of frame t against frame t - lag. Summing it along each chain of frames
lag apart gives every region's position over time (up to a constant per chain); a rolling median over a
window longer than any expression is the local neutral face, so position minus baseline is how far each
region has moved from rest: rising to the apex and back over an expression, ~0 between.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solveh_banded
from scipy.ndimage import median_filter

from deft.long.series import FaceSeries

BASELINE_SAMPLES = 24  # the rolling median is taken on this many points per window, then interpolated
SMOOTH_WEIGHT = 0.05  # weight of frame-to-frame smoothness against a lagged motion equation (weight 1)
RIDGE = 1e-6  # pins the free constant of the positions


def series_step(series: FaceSeries) -> int:
    """Source frames between consecutive rows of the series (1 when every frame was tracked)."""
    if len(series.frames) < 2:
        return 1
    return max(1, int(np.median(np.diff(series.frames))))


def positions(series: FaceSeries, skip: np.ndarray | None = None,
              smooth: float = SMOOTH_WEIGHT) -> tuple[np.ndarray, np.ndarray]:
    """(n, R, 2) region positions (IOD, up to a constant) whose lagged differences best match the motion,
    and the (n,) mask of rows with motion (and not in `skip`, rows whose motion is not to be trusted).

    Least squares over p(t) - p(t - lag) = motion(t) for every row with motion, plus `smooth` x
    (p(t) - p(t - 1))^2: on its own the lagged motion leaves `lag` interleaved chains of frames, each
    with its own constant; the small smoothness term ties them into one curve and bridges lost rows.
    The normal equations are banded (bandwidth lag), solved once for every region and axis.
    """
    motion = np.asarray(series.motion, np.float64)
    n = len(motion)
    valid = np.isfinite(motion).all(axis=(1, 2))
    if skip is not None:
        valid &= ~skip
    if n == 0:
        return np.zeros_like(motion), valid
    lag = max(1, int(round(series.lag / series_step(series))))
    rhs = np.zeros((n, motion.shape[1] * motion.shape[2]))
    band = np.zeros((lag + 1, n))  # upper form: band[lag + i - j, j] = M[i, j], i <= j
    diag, off1, offl = band[lag], band[lag - 1], band[0]  # lag 1: off1 is offl, both terms add there
    diag += RIDGE
    t = np.nonzero(valid[lag:])[0] + lag  # rows whose lagged equation holds
    flat = motion.reshape(n, -1)
    np.add.at(rhs, t, flat[t])
    np.add.at(rhs, t - lag, -flat[t])
    np.add.at(diag, t, 1.0)
    np.add.at(diag, t - lag, 1.0)
    np.add.at(offl, t, -1.0)  # M[t - lag, t]
    if n > 1:
        diag[1:] += smooth
        diag[:-1] += smooth
        off1[1:] -= smooth  # M[t - 1, t]
    pos = solveh_banded(band, rhs)
    return pos.reshape(motion.shape), valid


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


def displacement(series: FaceSeries, baseline_rows: int,
                 skip: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(n, R, 2) displacement of every region from its local baseline (IOD) and the (n,) valid mask."""
    pos, valid = positions(series, skip)
    return pos - _rolling_median(pos, max(3, baseline_rows)), valid
