"""Regions the video's compression froze: no pixel changed at any step from the reference to the apex.

A camera's sensor noise changes every pixel a little from frame to frame, and any motion changes the pixels it
crosses; a lossy codec (H.264 at a high CRF) instead copies a block from the frame before where the change would
cost more bits than it is worth, and a micro-expression's 1-3 px fall under that. Such a region holds no motion
for the flow to read: the motion may have been there or not, and the video cannot tell. On the world's
compression clips (CRF 28-36, still head) the expression AUs whose regions were at least FROZEN_SHARE frozen
were found a fifth as often as the rest (benchmarks/README), so where the stream says it was coded that hard
(deft.encoder) deft states them as unseen, not absent.
"""

from __future__ import annotations

import numpy as np

from deft.motion.regions import REGION_NAMES, region_windows

FROZEN_SHARE = 0.5  # a region is frozen when at least this share of its disc's pixels never changed
# x264 rate factor from which a frozen region is taken to hide motion. On world compression clips rendered again at
# CRF 18, 23, 26, 28 and 32, the regions of 10, 14, 14, 17 and 39 % of the AUs that moved froze (benchmarks/README):
# below it a frozen region mostly means nothing moved there.
HEAVY_CRF = 30.0


def frozen_shares(frames: np.ndarray, landmarks: np.ndarray, iod: float, start: int, stop: int) -> np.ndarray:
    """Per region (REGION_NAMES order), the share of its disc's pixels identical in every frame from `start` to
    `stop` (either order) of `frames` (T, H, W[, C]) uint8; `landmarks` (68, 2) and `iod` place the discs on them.
    A clip with one frame between them (start == stop) has nothing frozen."""
    lo, hi = sorted((int(start), int(stop)))
    if hi == lo:
        return np.zeros(len(REGION_NAMES))
    shares = []
    for rows, cols, disc in region_windows(frames.shape[1:3], landmarks, iod):
        window = frames[lo:hi + 1, rows, cols]
        same = np.all(window[1:] == window[:-1], axis=0)
        same = same.all(axis=-1) if same.ndim == 3 else same  # every colour channel
        shares.append(float(same[disc].mean()))
    return np.array(shares)


def frozen_regions(shares: np.ndarray) -> tuple[str, ...]:
    """The names of the regions at least FROZEN_SHARE frozen."""
    return tuple(name for name, s in zip(REGION_NAMES, shares) if s >= FROZEN_SHARE)


def hides_motion(crf: float | None) -> bool:
    """Whether a frozen region of a video coded at x264 rate factor `crf` (None: unknown) may hide motion."""
    return crf is not None and crf >= HEAVY_CRF
