"""Model inputs from a clip's clouds (or its 2D landmarks, for the baseline): points with their motion.

Each frame is first aligned to the clip's median shape by a rigid fit on the rigid points (what the pose
fit left over: a few degrees of error move points as much as a micro-expression does). A point's input is
its rest position and its displacement, scaled so that a micro-expression's 0.015-0.05 IOD is about 0.3-1.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from deft.tracking.pose import RIGID_POINTS

MOTION_SCALE = 20.0  # displacement (IOD) -> input units
SMOOTH_FRAMES = 3  # a clip's displacements are averaged over this many frames before taking peaks


def _rigid_fit(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, rotation R (T, D, D) and translation t (T, D) minimising |src[t] @ R.T + t - dst| (Kabsch)
    for src (T, K, D) and dst (K, D)."""
    ms, md = src.mean(axis=1), dst.mean(axis=0)
    u, _, vt = np.linalg.svd(np.einsum("tki,kj->tij", src - ms[:, None], dst - md))
    fix = np.broadcast_to(np.eye(src.shape[-1]), u.shape).copy()
    fix[:, -1, -1] = np.sign(np.linalg.det(u @ vt))
    rot = np.swapaxes(u @ fix @ vt, 1, 2)
    return rot, md - np.einsum("ti,tji->tj", ms, rot)


def stabilise(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, N, D) per-frame points -> (aligned (T', N, D), rest (N, D), kept (T,) bool): frames with NaN are
    dropped, each kept frame rigidly aligned (on RIGID_POINTS) to the clip's median shape (twice)."""
    kept = np.isfinite(points).all(axis=(1, 2))
    if not kept.any():
        raise ValueError("no frame of the clip has a face")
    pts = points[kept]
    idx = list(RIGID_POINTS)
    for _ in range(2):
        rest = np.median(pts, axis=0)
        rot, shift = _rigid_fit(pts[:, idx], rest[idx])
        pts = np.einsum("tnj,tij->tni", pts, rot) + shift[:, None]
    return pts, np.median(pts, axis=0), kept


def frame_inputs(points: np.ndarray) -> np.ndarray:
    """(T, N, D) clip points -> (T', N, 2D) per-frame inputs [position, scaled displacement from rest]."""
    pts, rest, _ = stabilise(points)
    return np.concatenate([pts, (pts - rest) * MOTION_SCALE], axis=-1).astype(np.float32)


def clip_input(points: np.ndarray) -> np.ndarray:
    """(T, N, D) clip points -> (N, 2D): rest position and each point's peak displacement (the frame where
    that point moved most, after a moving average over SMOOTH_FRAMES), so motions at different times all
    show."""
    pts, rest, _ = stabilise(points)
    disp = uniform_filter1d(pts - rest, SMOOTH_FRAMES, axis=0, mode="nearest")
    peak = np.linalg.norm(disp, axis=-1).argmax(axis=0)  # (N,)
    moved = disp[peak, np.arange(disp.shape[1])]
    return np.concatenate([rest, moved * MOTION_SCALE], axis=-1).astype(np.float32)


def landmarks_2d(landmarks: np.ndarray) -> np.ndarray:
    """(T, 68, 2) frame pixels -> eye-aligned IOD units (origin between the eyes, eyes on the x axis)."""
    left, right = landmarks[:, 36:42].mean(axis=1), landmarks[:, 42:48].mean(axis=1)
    v = right - left
    iod = np.linalg.norm(v, axis=-1, keepdims=True)
    c, s = (v / iod).T
    rot = np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)  # (T, 2, 2) undoes the roll
    centred = (landmarks - ((left + right) / 2)[:, None]) / iod[:, None]
    return np.einsum("tij,tnj->tni", rot, centred)
