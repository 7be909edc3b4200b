"""Per-region face motion of one frame against the frame `lag` before it, head motion removed.

Both frames are cropped with frame t's eye alignment; frame t - lag is first registered onto frame t by a
similarity fitted on landmarks expressions barely move (eye corners, nose), so head translation, roll and
scale are undone before the flow. What the landmark registration leaves (jitter) is removed from the flow
by the same robust similarity fit the clip pipeline uses (deft.motion.flow.remove_head_motion).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from deft.face import LEFT_EYE_AT, RIGHT_EYE_AT, eye_alignment
from deft.motion.flow import remove_head_motion
from deft.motion.regions import REGIONS, region_geometry

# Eye corners, nose bridge and nose base: no AU in deft's list moves them by more than a fraction of the
# brows' or lips' motion (AU9 wrinkles the nose above the base: the base points 31-35 barely shift).
STABLE_POINTS = (27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45)


@dataclass(frozen=True)
class MotionConfig:
    """How per-frame region motion is measured."""

    # eye-aligned crop side, px (IOD 0.3 x crop; DIS works at half size): smaller crops lose small motions
    # (benchmarks/README.md, "Long videos")
    crop: int = 192
    lag_s: float = 0.2  # time between the compared frames (a micro-expression rises in 0.1-0.25 s)
    descent_iterations: int = 12  # DIS MEDIUM's other settings; its 25 and 5 cost more and smooth small motion away
    refinement_iterations: int = 2

    @property
    def crop_iod(self) -> float:
        return float(np.hypot(*(np.subtract(RIGHT_EYE_AT, LEFT_EYE_AT) * self.crop)))

    def lag_frames(self, fps: float) -> int:
        """Lag in analysed frames (at least one)."""
        return max(1, int(round(self.lag_s * fps)))


_per_thread = threading.local()


def _dis(config: MotionConfig):
    """This thread's DIS (it keeps buffers: threads must not share one), tuned for small per-frame crops."""
    cache = _per_thread.__dict__.setdefault("dis", {})
    key = (config.descent_iterations, config.refinement_iterations)
    if key not in cache:
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        dis.setGradientDescentIterations(config.descent_iterations)
        dis.setVariationalRefinementIterations(config.refinement_iterations)
        cache[key] = dis
    return cache[key]


@lru_cache(maxsize=8)
def _discs(iod: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a crop whose IOD is `iod` px: every region disc's pixel offsets (dy, dx) from its centre pixel,
    concatenated in REGIONS order, and the index where each region's run starts."""
    dys, dxs, starts = [], [], []
    for spec in REGIONS:
        radius = spec.radius * iod
        r = int(np.ceil(radius))
        dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
        inside = dy**2 + dx**2 <= radius**2
        starts.append(sum(len(d) for d in dys))
        dys.append(dy[inside])
        dxs.append(dx[inside])
    return np.concatenate(dys), np.concatenate(dxs), np.array(starts)


def region_vectors(flow: np.ndarray, landmarks: np.ndarray, iod: float) -> np.ndarray:
    """(R, 2) mean flow (dx, dy) of each region disc, in IOD; R = len(REGIONS), deft.motion.regions' order:
    the discs region_geometry places, centres rounded to a pixel (one gather for all regions)."""
    h, w = flow.shape[:2]
    unit = round(float(iod), 2)  # the discs' cache key
    dy, dx, starts = _discs(unit)
    lm = np.asarray(landmarks, np.float64)
    centres = np.rint([region_geometry(spec, lm, unit)[0] for spec in REGIONS]).astype(int)  # (R, 2) x, y
    counts = np.diff(np.append(starts, len(dy)))
    ys = np.clip(np.repeat(centres[:, 1], counts) + dy, 0, h - 1)
    xs = np.clip(np.repeat(centres[:, 0], counts) + dx, 0, w - 1)
    sums = np.add.reduceat(flow[ys, xs].astype(np.float64), starts, axis=0)
    return (sums / counts[:, None] / iod).astype(np.float32)


def lag_motion(gray_prev: np.ndarray, gray: np.ndarray, lm_prev: np.ndarray, lm: np.ndarray,
               config: MotionConfig = MotionConfig()) -> np.ndarray:
    """(R, 2) region motion in IOD from frame t - lag (`gray_prev`, `lm_prev`) to frame t; NaN if either
    frame has no landmarks."""
    if np.isnan(lm).any() or np.isnan(lm_prev).any():
        return np.full((len(REGIONS), 2), np.nan, np.float32)
    idx = list(STABLE_POINTS)
    to_crop = np.vstack([eye_alignment(lm, config.crop), [0, 0, 1]])
    reg, _ = cv2.estimateAffinePartial2D(lm_prev[idx], lm[idx], method=cv2.LMEDS)
    prev_to_crop = to_crop if reg is None else to_crop @ np.vstack([reg, [0, 0, 1]])
    size = (config.crop, config.crop)
    a = cv2.warpAffine(gray_prev, prev_to_crop[:2], size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    b = cv2.warpAffine(gray, to_crop[:2], size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    lm_crop = (lm @ to_crop[:2, :2].T + to_crop[:2, 2]).astype(np.float32)
    iod = config.crop_iod
    flow = remove_head_motion(_dis(config).calc(a, b, None), lm_crop, iod)
    return region_vectors(flow, lm_crop, iod)
