"""How much each eye's appearance departs from the clip's open eye: the eyelid signal dlib's points miss.

dlib's lid points follow a closing lid only part of the way (on some faces hardly at all), and they move
both eyes together when one winks. An eye patch aligned on its two corners (which stay put when the
lid moves) changes a lot when the lid covers the iris and sclera, so 1 - NCC to the clip's median patch
is the closure score: ~0 for the open eye, rising with the lid. The open eye is the median patch of the
frames around (a sliding window longer than a blink), so a head turn's slow change of the eye's look
is not taken for a lid.

A turning or nodding head also moves the eyeball against its corners (it stands in front of them) by about
a pixel of the patch, which 1 - NCC reads as a closing lid (benchmarks/README). The shift-tolerant score
takes the best NCC over +-1 px shifts of the patch: an eye that only moved scores low, a lid that covers the
iris does not (deft.ordinary.doubt judges the events with it).
"""

from __future__ import annotations

import cv2
import numpy as np

from deft.ordinary.geometry import EYE_CORNERS

PATCH_W, PATCH_H = 24, 16  # eye-aligned patch: corners at x = 4 and 20 on the middle row
SHIFT_PX = 1  # the shift-tolerant score's reach, patch pixels (an eye 16 px wide)


def eye_patches(gray: np.ndarray, landmarks: np.ndarray, corners: tuple[int, int], margin: int = 0) -> np.ndarray:
    """(T, PATCH_H + 2 margin, PATCH_W + 2 margin) float32 patches of one eye (the patch and `margin` pixels
    around it); NaN where its corners were not found."""
    h, w = PATCH_H + 2 * margin, PATCH_W + 2 * margin
    dst = np.float32([[4 + margin, PATCH_H / 2 + margin], [20 + margin, PATCH_H / 2 + margin],
                      [4 + margin, PATCH_H / 2 + 16 + margin]])
    out = np.full((len(gray), h, w), np.nan, np.float32)
    for t, (frame, lm) in enumerate(zip(gray, landmarks)):
        p, q = lm[corners[0]], lm[corners[1]]
        if not (np.isfinite(p).all() and np.isfinite(q).all()) or abs(q - p).sum() < 1.0:
            continue
        v = q - p
        src = np.float32([p, q, p + np.array([-v[1], v[0]])])
        out[t] = cv2.warpAffine(frame, cv2.getAffineTransform(src, dst), (w, h), flags=cv2.INTER_LINEAR)
    return out


def _unit(patches: np.ndarray) -> np.ndarray:
    """Patches less their mean, divided by their norm (their dot product is the NCC)."""
    z = patches - patches.mean(axis=(-2, -1), keepdims=True)
    return z / (np.linalg.norm(z, axis=(-2, -1), keepdims=True) + 1e-6)


def reference_windows(ok: np.ndarray, half_window: int) -> list[tuple[int, int]]:
    """Per measured frame (indices `ok`) the (first, last) positions in `ok` of the frames whose median is its
    open eye: those within `half_window` of it, the window held inside the clip and moved in steps."""
    step = max(1, half_window // 3)  # windows move in steps: a few medians per clip, not one per frame
    out = []
    for t in ok:
        centre = min(max(t, half_window), max(half_window, int(ok[-1]) - half_window)) // step * step
        near = np.flatnonzero((ok >= centre - half_window) & (ok <= centre + half_window))
        out.append((int(near[0]), int(near[-1])))
    return out


def _shifted_units(patches: np.ndarray, shift: int) -> np.ndarray:
    """(n, shifts, h, w) unit patches (_unit) of (n, h + 2 shift, w + 2 shift) ones with their margin, moved by up to
    `shift` pixels each way; the unshifted one in the middle."""
    h, w = patches.shape[1] - 2 * shift, patches.shape[2] - 2 * shift
    return np.stack([_unit(patches[:, dy:dy + h, dx:dx + w]) for dy in range(2 * shift + 1)
                     for dx in range(2 * shift + 1)], axis=1)


def departure(patches: np.ndarray, half_window: int, shift: int = 0) -> np.ndarray:
    """(T,) 1 - normalised cross-correlation of each patch with the median patch of the frames within
    `half_window` of it (0 where unmeasured). With `shift`, `patches` carry that margin around the patch
    and the best NCC over the patch shifted by up to `shift` pixels each way counts."""
    ok = np.flatnonzero(np.isfinite(patches).all(axis=(1, 2)))
    score = np.zeros(len(patches))
    if len(ok) < 3:
        return score
    shifted = _shifted_units(patches[ok], shift)
    z = shifted[:, len(shifted[0]) // 2]
    refs: dict[tuple[int, int], np.ndarray] = {}
    for i, key in enumerate(reference_windows(ok, half_window)):
        if key not in refs:
            ref = np.median(z[key[0]:key[1] + 1], axis=0)
            refs[key] = ref / (float(np.linalg.norm(ref)) + 1e-6)
        score[ok[i]] = 1.0 - float((shifted[i] * refs[key]).sum(axis=(-2, -1)).max())
    return score


def flank_departure(patches: np.ndarray, span: tuple[int, int], flank: int) -> float:
    """How far the eye departs, at its furthest over frames span[0]..span[1], from how it looked in the `flank`
    frames just before and just after (each side's median patch, shift-tolerant as departure()): per frame the
    smaller departure of the two sides (0 where a side has under two measured frames: at the clip's edge one
    side's look alone cannot tell a lid from a turn). `patches` carry the SHIFT_PX margin. A closing lid departs
    from both sides; a turning head takes the eye only part of the way from the look of one side to the other's."""
    ok = np.isfinite(patches).all(axis=(1, 2))
    a, b = span
    during = [t for t in range(a, b + 1) if ok[t]]
    refs = []
    for side in (range(max(0, a - flank), a), range(b + 1, min(len(patches), b + 1 + flank))):
        seen = [t for t in side if ok[t]]
        if len(seen) >= 2:
            ref = np.median(_unit(patches[seen, SHIFT_PX:-SHIFT_PX, SHIFT_PX:-SHIFT_PX]), axis=0)
            refs.append(ref / (float(np.linalg.norm(ref)) + 1e-6))
    if len(refs) < 2 or not during:
        return 0.0
    shifted = _shifted_units(patches[during], SHIFT_PX)
    best = np.max([(shifted * ref).sum(axis=(-2, -1)).max(axis=1) for ref in refs], axis=0)  # (frames,)
    return float(1.0 - best.min())


def closure_scores(gray: np.ndarray, landmarks: np.ndarray, half_window: int
                   ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per eye ("right" | "left", the subject's sides) the (T,) appearance departure from the open eye: the plain
    score and the shift-tolerant one, both from one warp of the patch with its SHIFT_PX margin; and those
    (T, PATCH_H + 2 SHIFT_PX, PATCH_W + 2 SHIFT_PX) patches (flank_departure)."""
    plain, shifted, warped = {}, {}, {}
    for side, corners in EYE_CORNERS.items():
        warped[side] = patches = eye_patches(gray, landmarks, corners, SHIFT_PX)
        plain[side] = departure(patches[:, SHIFT_PX:-SHIFT_PX, SHIFT_PX:-SHIFT_PX], half_window)
        shifted[side] = departure(patches, half_window, SHIFT_PX)
    return plain, shifted, warped
