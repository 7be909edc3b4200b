"""The AU flow's two images, each the mean of a few registered frames: sensor noise falls ~sqrt(k).

A single reference frame and a single apex frame carry the camera's noise at full strength, and dense flow
between them reads that noise as motion (worst on small faces, upsampled into the crop with their noise; a
codec's artefacts are largely shared between neighbouring frames and fall less: benchmarks/README). The
reference image averages the still frames next to the reference (on the side away from the expression, whose
motion and mouth and lids stay as at the reference); the apex image averages the apex's neighbours whose motion
stays near the apex's (a micro-expression's peak lasts a few frames).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

REFERENCE_S = 0.1  # the reference image spans at most this much time (s) ...
MAX_REFERENCE_FRAMES = 4  # ... and this many frames (60 fps clips)
STILL_SHARE = 0.15  # a reference neighbour moves less than this share of the apex's motion away from the reference
APEX_SHARE = 0.85  # an apex neighbour keeps this share of the apex's motion (both vs the reference)
APEX_REACH = 1  # apex neighbours considered on each side (frames)
# Speech and blinks move the mouth and lids between frames while the motion curve (which has them taken out)
# stays flat: a neighbour is averaged in only if its mouth and lid signals are within this share of
# deft.ordinary.separate.SCALE (a quarter syllable, a quarter closure) of its side's frame, i.e. barely move.
ORDINARY_MATCH = 0.25


def reference_frames(curve: np.ndarray, reference: int, apex: int, fps: float,
                     matches: Callable[[int], bool] = lambda t: True) -> list[int]:
    """The reference and its contiguous still neighbours away from the apex (`matches`: mouth and lids as at
    the reference), nearest first; `curve` is the clip's motion per frame (IOD)."""
    rise = abs(float(curve[apex] - curve[reference]))
    n = min(MAX_REFERENCE_FRAMES, max(1, int(round(REFERENCE_S * fps))))
    step = -1 if reference < apex else 1
    frames = [reference]
    t = reference + step
    while len(frames) < n and 0 <= t < len(curve) and abs(float(curve[t] - curve[reference])) <= STILL_SHARE * rise \
            and matches(t):
        frames.append(t)
        t += step
    return frames


def apex_frames(curve: np.ndarray, reference: int, apex: int, matches: Callable[[int], bool] = lambda t: True
                ) -> list[int]:
    """The apex and its neighbours (APEX_REACH each side) whose motion vs the reference is at least APEX_SHARE
    of the apex's (`matches`: mouth and lids as at the apex), apex first."""
    rise = float(curve[apex] - curve[reference])
    near = [t for t in range(apex - APEX_REACH, apex + APEX_REACH + 1) if t != apex and 0 <= t < len(curve)]
    return [apex] + [t for t in near if t != reference and rise > 0 and curve[t] - curve[reference] >= APEX_SHARE * rise
                     and matches(t)]


def mean_image(frames: np.ndarray) -> np.ndarray:
    """(k, H, W) uint8 frames -> (H, W) uint8 mean, rounded."""
    return np.clip(np.rint(frames.astype(np.float32).mean(axis=0)), 0, 255).astype(np.uint8)
