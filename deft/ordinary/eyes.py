"""How much each eye's appearance departs from the clip's open eye: the eyelid signal dlib's points miss.

dlib's lid points follow a closing lid only part of the way (on some faces hardly at all), and they move
both eyes together when one winks. An eye patch aligned on its two corners (which stay put when the
lid moves) changes a lot when the lid covers the iris and sclera, so 1 - NCC to the clip's median patch
is the closure score: ~0 for the open eye, rising with the lid. The open eye is the median patch of the
frames around (a sliding window longer than a blink), so a head turn's slow change of the eye's look
is not taken for a lid.
"""

from __future__ import annotations

import cv2
import numpy as np

from deft.ordinary.geometry import EYE_CORNERS

PATCH_W, PATCH_H = 24, 16  # eye-aligned patch: corners at x = 4 and 20 on the middle row
_DST = np.float32([[4, PATCH_H / 2], [20, PATCH_H / 2], [4, PATCH_H / 2 + 16]])


def eye_patches(gray: np.ndarray, landmarks: np.ndarray, corners: tuple[int, int]) -> np.ndarray:
    """(T, PATCH_H, PATCH_W) float32 patches of one eye; NaN where its corners were not found."""
    out = np.full((len(gray), PATCH_H, PATCH_W), np.nan, np.float32)
    for t, (frame, lm) in enumerate(zip(gray, landmarks)):
        p, q = lm[corners[0]], lm[corners[1]]
        if not (np.isfinite(p).all() and np.isfinite(q).all()) or abs(q - p).sum() < 1.0:
            continue
        v = q - p
        src = np.float32([p, q, p + np.array([-v[1], v[0]])])
        out[t] = cv2.warpAffine(frame, cv2.getAffineTransform(src, _DST), (PATCH_W, PATCH_H), flags=cv2.INTER_LINEAR)
    return out


def departure(patches: np.ndarray, half_window: int) -> np.ndarray:
    """(T,) 1 - normalised cross-correlation of each patch with the median patch of the frames within
    `half_window` of it (0 where unmeasured)."""
    ok = np.flatnonzero(np.isfinite(patches).all(axis=(1, 2)))
    score = np.zeros(len(patches))
    if len(ok) < 3:
        return score
    z = patches[ok] - patches[ok].mean(axis=(1, 2), keepdims=True)
    z /= np.linalg.norm(z, axis=(1, 2), keepdims=True) + 1e-6
    refs: dict[tuple[int, int], np.ndarray] = {}
    step = max(1, half_window // 3)  # windows move in steps: a few medians per clip, not one per frame
    for i, t in enumerate(ok):
        centre = min(max(t, half_window), max(half_window, int(ok[-1]) - half_window)) // step * step
        near = np.flatnonzero((ok >= centre - half_window) & (ok <= centre + half_window))
        key = (int(near[0]), int(near[-1]))
        if key not in refs:
            ref = np.median(z[key[0]:key[1] + 1], axis=0)
            refs[key] = ref / (float(np.linalg.norm(ref)) + 1e-6)
        score[t] = 1.0 - float((z[i] * refs[key]).sum())
    return score


def closure_scores(gray: np.ndarray, landmarks: np.ndarray, half_window: int) -> dict[str, np.ndarray]:
    """Per eye ("right" | "left", the subject's sides) the (T,) appearance departure from the open eye."""
    return {side: departure(eye_patches(gray, landmarks, corners), half_window) for side, corners in EYE_CORNERS.items()}
