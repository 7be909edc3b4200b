"""The slow drift a turned head leaves in registered motion, fitted over the clip and taken out.

On a head turning in depth, registration and the flow's parallax fit leave a little of the turn in every
region's motion against frame 0 (0.005-0.015 IOD by the clip's end, as large as a micro-expression); it grows
smoothly with the turn, so the motion curve's peak drifts to the clip's end. An expression is a rise and fall
of a few to twenty frames: per region and axis, a low-order polynomial in time fitted robustly (Tukey's
biweight, the expression counting as outliers) follows the drift and not the expression; spotting reads
what is left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deft.motion.flow import TUKEY_C

DRIFT_DEGREE = 3  # cubic in time: a turn there and back over a clip
# Only where the head turned clearly in depth: what a similarity registration leaves on the stable landmarks
# somewhere in the clip (Registration.residual_2d_iod) exceeds DRIFT_IOD and the tracked yaw or pitch spans over
# DRIFT_TURN_DEG. Still heads read .009-.016 IOD and up to 6.4° (dev clean, blinks: a blink bends dlib's points),
# the old generator's in-plane drift up to .030 IOD and 6.6°; dev turned heads .017-.10 IOD and 7.5-23°.
# On a head that did not turn the fit only eats slow expressions (and moves the onset the flow starts from).
DRIFT_IOD, DRIFT_TURN_DEG = 0.02, 8.0
DRIFT_ITERATIONS = 8
MIN_SCALE_IOD = 1e-4  # floor on the residual scale: a still region is not all outliers


def far_turn(residual_2d_iod: np.ndarray, pose_range: dict[str, float]) -> bool:
    """Whether the head turned far enough in depth for its drift to be taken out of the motion curve."""
    turned = bool(np.nanmax(residual_2d_iod, initial=0.0) > DRIFT_IOD)
    return turned and max(pose_range.get("yaw", 0.0), pose_range.get("pitch", 0.0)) > DRIFT_TURN_DEG


@dataclass(frozen=True)
class Drift:
    """A fitted drift: per region and axis, polynomial coefficients in time t = frame / (n_frames - 1)."""

    coef: np.ndarray  # (degree + 1, R * 2)
    n_frames: int
    shape: tuple[int, ...]  # (R, 2)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """(n, R, 2) the drift at `frames`."""
        t = np.asarray(frames, float) / max(self.n_frames - 1, 1)
        return (np.vander(t, len(self.coef), increasing=True) @ self.coef).reshape(len(t), *self.shape)


def fit_drift(frames: np.ndarray, n_frames: int, vectors: np.ndarray) -> Drift:
    """The drift of (n, R, 2) per-region motion measured at `frames` of an n_frames clip: per region and axis
    a polynomial in time fitted by iteratively reweighted least squares (Tukey's biweight). Fit it on evenly
    spaced frames: frames measured densely near a peak would pull the fit onto the expression."""
    t = np.asarray(frames, float) / max(n_frames - 1, 1)
    design = np.vander(t, min(DRIFT_DEGREE, len(t) - 1) + 1, increasing=True)
    flat = np.asarray(vectors, float).reshape(len(t), -1)
    coef = np.zeros((design.shape[1], flat.shape[1]))
    for j in range(flat.shape[1]):
        y, weight = flat[:, j], np.ones(len(t))
        for _ in range(DRIFT_ITERATIONS):
            sw = np.sqrt(weight)
            coef[:, j], *_ = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)
            r = np.abs(y - design @ coef[:, j])
            scale = TUKEY_C * max(1.4826 * float(np.median(r)), MIN_SCALE_IOD)
            weight = np.clip(1 - (r / scale) ** 2, 0, None) ** 2
    return Drift(coef, n_frames, np.shape(vectors)[1:])


def without_drift(frames: np.ndarray, n_frames: int, vectors: np.ndarray) -> np.ndarray:
    """(n, R, 2) per-region motion at `frames` less its own drift (fit_drift on the same frames)."""
    return np.asarray(vectors, float) - fit_drift(frames, n_frames, vectors)(frames)
