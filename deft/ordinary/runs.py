"""Intervals and peaks of 1-D signals: the two shapes ordinary motion is read from."""

from __future__ import annotations

import numpy as np


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) inclusive of every run of True frames."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist()))


def hysteresis(signal: np.ndarray, low: float, high: float) -> list[tuple[int, int]]:
    """Runs above `low` whose peak reaches `high` (a clear event, measured out to its low edges)."""
    return [(a, b) for a, b in runs(signal > low) if signal[a:b + 1].max() >= high]


def peaks(signal: np.ndarray, prominence: float) -> list[int]:
    """Local maxima standing at least `prominence` above the lowest point on each side before a higher one."""
    out = []
    n = len(signal)
    for t in range(n):
        if (t > 0 and signal[t - 1] >= signal[t]) or (t < n - 1 and signal[t + 1] > signal[t]):
            continue
        left = right = signal[t]
        i = t - 1
        while i >= 0 and signal[i] <= signal[t]:
            left, i = min(left, signal[i]), i - 1
        j = t + 1
        while j < n and signal[j] <= signal[t]:
            right, j = min(right, signal[j]), j + 1
        if signal[t] - max(left, right) >= prominence:
            out.append(t)
    return out
