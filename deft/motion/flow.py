"""Dense optical flow (DIS or TV-L1), optical strain, and removal of rigid head motion."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from deft.errors import ConfigError

FLOW_METHODS = ("dis", "tvl1")

# Head motion is fitted on a grid over the whole face with least-median-of-squares: expression
# motion is local and covers well under half the face, so LMEDS treats it as outliers.
HEAD_GRID_IOD = 0.08  # grid step of the sample points, in IOD
FOREHEAD_IOD = 0.45  # the face hull is extended this far above the brows
# The parallax fit: Tukey's biweight constant (95 % efficiency on Gaussian noise), its iterations, and a
# floor on the residual scale (px) so near-perfect registration does not make every pixel an outlier.
TUKEY_C, PARALLAX_ITERATIONS, MIN_RESIDUAL_PX = 4.685, 6, 0.05
# The parallax is fitted on the face above the nose base (iBUG 33): speech, a jaw drop and the mouth AUs move
# the lower face coherently over up to a third of the face, enough to bend even a robust fit (a surprise's jaw
# drop was read a quarter its size: benchmarks/README). Above it, the nose against cheeks and forehead fixes it.
PARALLAX_FIT_ABOVE = 33
# The AU flow's fit also leaves out the cheeks beside the nose below the lower lids (iBUG 40/41, 46/47; the nose
# wings 31/35 bound the strip kept): AU6 raises them, and a fit that took the raise for parallax carried it onto
# the mouth corners, so a smile (AU6 + AU12) read AU14 (dev pose and clean clips once the fit ran on small head
# moves). The motion curve's fits keep them: without, dev +777 apexes within 2 frames fell (blinks 14 -> 12,
# pose 12 -> 11 of 15).
LOWER_LIDS, NOSE_WINGS = [40, 41, 46, 47], (31, 35)


# The AU flow's images are blurred first by this sigma in the source video's pixels (scaled to the crop): a small
# face is upsampled into the crop, and its sensor noise and codec blocks with it, which full-resolution DIS reads.
PRESMOOTH_SOURCE_PX = 0.5


_per_thread = threading.local()


def _dis(preset: int, finest_scale: int | None = None):
    """This thread's DIS instance: it keeps internal buffers, so threads must not share one."""
    cache = _per_thread.__dict__.setdefault("dis", {})
    if (preset, finest_scale) not in cache:
        dis = cv2.DISOpticalFlow_create(preset)
        if finest_scale is not None:
            dis.setFinestScale(finest_scale)
        cache[preset, finest_scale] = dis
    return cache[preset, finest_scale]


def to_gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def compute_flow(prev_gray: np.ndarray, next_gray: np.ndarray, method: str = "dis",
                 full_resolution: bool = False) -> np.ndarray:
    """Flow (H, W, 2) float32 in pixels from `prev_gray` to `next_gray` (uint8 grayscale).

    `full_resolution`: DIS refines down to the input's own scale (the MEDIUM preset stops at half of it):
    slower, finer; the AU flow uses it, the many flows of the motion curve do not."""
    if method == "dis":
        # MEDIUM preset: the ULTRAFAST one misses sub-pixel motion of 1-2 px micro-expressions.
        return _dis(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, 0 if full_resolution else None).calc(prev_gray, next_gray, None)
    if method == "tvl1":
        tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
        return tvl1.calc(prev_gray, next_gray, None)
    raise ConfigError(f"unknown flow method {method!r}; choose one of {', '.join(FLOW_METHODS)}")


def presmooth(gray: np.ndarray, upsample: float) -> np.ndarray:
    """`gray` blurred by PRESMOOTH_SOURCE_PX source pixels, `upsample` crop pixels per source pixel."""
    sigma = PRESMOOTH_SOURCE_PX * upsample
    return cv2.GaussianBlur(gray, (0, 0), sigma) if sigma >= 0.25 else gray


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Magnitude of the infinitesimal strain tensor of the flow field (H, W), as MER papers use."""
    u, v = flow[..., 0], flow[..., 1]
    du_dy, du_dx = np.gradient(u)
    dv_dy, dv_dx = np.gradient(v)
    shear = 0.5 * (du_dy + dv_dx)
    return np.sqrt(du_dx**2 + dv_dy**2 + 2.0 * shear**2).astype(np.float32)


def face_hull_mask(shape: tuple[int, int], landmarks: np.ndarray, iod: float) -> np.ndarray:
    """Face area: convex hull of the 68 landmarks plus the forehead above the brows."""
    forehead = landmarks[17:27] + np.array([0.0, -FOREHEAD_IOD * iod], np.float32)
    hull = cv2.convexHull(np.vstack([landmarks, forehead]).astype(np.int32))
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(bool)


def head_motion(flow: np.ndarray, landmarks: np.ndarray, iod: float) -> np.ndarray:
    """Similarity (2, 3) that best explains the flow over the face, fitted robustly (LMEDS)."""
    h, w = flow.shape[:2]
    step = max(2, int(round(HEAD_GRID_IOD * iod)))
    mask = face_hull_mask((h, w), landmarks, iod)
    ys, xs = np.nonzero(mask[::step, ::step])
    ys, xs = ys * step, xs * step
    src = np.stack([xs, ys], axis=1).astype(np.float32)
    dst = src + flow[ys, xs]
    matrix, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if matrix is None:  # degenerate (tiny face): fall back to the median translation
        matrix = np.hstack([np.eye(2), np.median(flow[ys, xs], axis=0)[:, None]])
    return matrix.astype(np.float32)


def remove_head_motion(flow: np.ndarray, landmarks: np.ndarray, iod: float, depth: np.ndarray | None = None,
                       fit_cheeks: bool = True) -> np.ndarray:
    """Flow minus the fitted rigid head motion, leaving the facial muscle motion; with a `depth` map
    (H, W) of the face, the parallax of a turn in depth is fitted and removed too (`fit_cheeks`: parallax_area)."""
    h, w = flow.shape[:2]
    m = head_motion(flow, landmarks, iod)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    head = np.stack(
        [m[0, 0] * xs + m[0, 1] * ys + m[0, 2] - xs, m[1, 0] * xs + m[1, 1] * ys + m[1, 2] - ys], axis=-1
    )
    rest = flow - head
    if depth is None:
        return rest
    return rest - parallax_motion(rest, landmarks, iod, depth, fit_cheeks)


def parallax_area(shape: tuple[int, int], landmarks: np.ndarray, iod: float, cheeks: bool = True) -> np.ndarray:
    """Where a head turn's parallax is fitted: the face above the nose base, with or without the cheeks beside
    the nose."""
    area = face_hull_mask(shape, landmarks, iod)
    area[max(0, int(landmarks[PARALLAX_FIT_ABOVE, 1])):] = False
    if cheeks:
        return area
    below_lids = max(0, int(landmarks[LOWER_LIDS, 1].mean()) + 1)
    left, right = (int(landmarks[i, 0]) for i in NOSE_WINGS)
    area[below_lids:, :max(0, left)] = False
    area[below_lids:, right + 1:] = False
    return area


def parallax_motion(flow: np.ndarray, landmarks: np.ndarray, iod: float, depth: np.ndarray,
                    fit_cheeks: bool = True) -> np.ndarray:
    """(H, W, 2) the affine-camera motion of a rigid face, A (x, y) + z d + c, that best explains the flow
    over the face: fitted on parallax_area by iteratively reweighted least squares (Tukey), so local expression
    motion counts as outliers."""
    h, w = flow.shape[:2]
    step = max(2, int(round(HEAD_GRID_IOD * iod)))
    ys, xs = np.nonzero(parallax_area((h, w), landmarks, iod, fit_cheeks)[::step, ::step])
    ys, xs = ys * step, xs * step
    centre = landmarks.mean(axis=0)

    def design(x, y, z):
        return np.stack([(x - centre[0]) / iod, (y - centre[1]) / iod, z / iod, np.ones_like(x)], axis=-1)

    a = design(xs.astype(np.float64), ys.astype(np.float64), depth[ys, xs].astype(np.float64))
    u = flow[ys, xs].astype(np.float64)
    weight = np.ones(len(a))
    for _ in range(PARALLAX_ITERATIONS):
        sw = np.sqrt(weight)[:, None]
        coef, *_ = np.linalg.lstsq(a * sw, u * sw, rcond=None)
        r = np.linalg.norm(u - a @ coef, axis=1)
        scale = TUKEY_C * max(1.4826 * float(np.median(r)), MIN_RESIDUAL_PX)
        weight = np.clip(1 - (r / scale) ** 2, 0, None) ** 2
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    return (design(gx, gy, depth) @ coef.astype(np.float32)).astype(np.float32)
