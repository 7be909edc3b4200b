"""Every frame registered onto one reference face crop, head turns in depth included.

A rigid head seen by a camera far away compared with its depth (an affine camera) puts each face point
(x, y, z) at A (x, y) + z d + c in the image: A and c are the 2D motion a similarity or affine warp undoes,
z d is the parallax of a turn in depth (the nose tip slides against the cheeks), which no 2D warp undoes.
Per frame, [A | d] = s R[:2] (a scaled rotation: a head does not shear) and c are fitted by least squares from
the reference crop's stable landmarks (nose, eye corners) with the depths of the mean 3D face (deft.face3d)
to that frame's tracked landmarks; the frame
is then sampled at A p + z(p) d + c for every crop pixel p, z(p) interpolated from the landmarks' depths.
Landmarks are noisy, so the flow between registered frames still carries a little of the same rigid motion:
deft.motion.flow.parallax_motion fits and removes it with the same depth map. What the fits leave on the
stable landmarks is the registration error, in IOD; where a turn leaves too much, the result is not trusted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from deft.errors import ConfigError, FaceError
from deft.face import eye_alignment, eye_centres
from deft.face3d import mean_face

# Points an expression hardly moves and whose depths differ (nose ridge and tip vs eye corners), so the
# parallax term is well determined. The face outline is left out: on a turned head dlib follows the
# silhouette, which is not one point of the head. Eyelids, brows and lips move with AUs, blinks, speech.
STABLE_POINTS = (27, 28, 29, 30, 36, 39, 42, 45)
MODELS = ("similarity", "affine", "depth")
FOREHEAD_IOD = 0.45  # depth is extended this far above the brows (as deft.motion.flow's face hull)
FOREHEAD_SLOPE = 0.25  # the forehead leans back: depth lost per IOD above the brows (as the world's mesh)
DEPTH_GRID = 32  # the depth map is interpolated on this grid and resized: it is smooth
# Each frame gets the simplest map its motion needs: landmark noise (dlib, ~0.005-0.01 IOD) puts up to a pixel
# of jitter into a per-frame fit, which the flow then has to measure. A frame whose stable landmarks sit within
# STILL_IOD (RMS) of where the reference's map puts them keeps that map (a still head: one alignment for all),
# and the frame's own map is blended in up to twice that; a frame whose similarity fit leaves under FLAT_IOD
# (the landmarks' noise floor) gets a similarity, the rest the full model.
STILL_IOD, FLAT_IOD = 0.04, 0.01
RIGID_ITERATIONS = 5  # Gauss-Newton steps of the rigid fit (it converges in 2-3 from the nearest rotation)
# The head turned in depth between the reference and a frame past this (Registration.turned_at: the onset ->
# apex flow's parallax is then fitted). Measured: still heads 0.006 (speech) to 0.012 (a 0.15 IOD jaw drop bends
# dlib's nose points); the smallest turns that need the fit 0.012-0.014. A thin margin, but a still head taken
# for a turned one only gets that fit, which ignores the moving lower face (deft.motion.flow.PARALLAX_FIT_ABOVE).
TURNED_IOD = 0.0115
# The head moved between the reference and a frame past this: the stable landmarks sit this far (RMS, IOD) from
# where the reference's own map puts them. Measured (dev sets +777, reference -> apex): still heads 0.002-0.017
# (speech and blinks bend dlib's points), a still surprise with wide eyes and a dropped jaw 0.020 (there the fit
# took the brow raise for head motion: tests/test_ordinary.py), moving heads 0.017-0.39. A nod or turn of 1-3
# degrees while the head moves leaves a parallax under TURNED_IOD on the 8 stable landmarks yet 0.005-0.014 IOD
# on the brows and lips (false AU1/AU2/AU10), which the flow's dense fit finds (Registration.turned_at).
MOVED_IOD = 0.025


@dataclass
class Registration:
    """How every frame was brought onto the reference crop, and how well that worked (IOD units)."""

    reference: int  # the frame whose face defines the crop
    to_crop: np.ndarray  # (2, 3) similarity, reference frame pixels -> crop
    maps: np.ndarray  # (T, 2, 4) per frame: crop (x, y, depth, 1) -> frame pixels
    landmarks: np.ndarray  # (68, 2) reference landmarks in crop pixels
    iod: float  # crop pixels
    residual_iod: np.ndarray  # (T,) RMS of the stable landmarks after registration; NaN where the face was lost
    residual_2d_iod: np.ndarray  # (T,) the same after a similarity only: what a 2D registration leaves
    model: str
    size: int  # crop side, pixels
    depth: np.ndarray = field(repr=False, default=None)  # (S, S) depth of every crop pixel (zeros unless "depth")
    moved_iod: np.ndarray = field(repr=False, default=None)  # (T,) RMS of the stable landmarks under the reference's map

    def parallax_iod(self, frame: int) -> float:
        """What a 2D (similarity) registration leaves on the stable landmarks of `frame`: mostly the parallax
        of a turn in depth, which the depth model has to remove."""
        return float(self.residual_2d_iod[frame])

    def turned(self) -> bool:
        """Whether the head turned in depth during the clip, past the landmarks' noise floor: only then is the
        motion curve's parallax fitted (on a still head that fit only adds noise)."""
        return bool(np.nanmax(self.residual_2d_iod, initial=0.0) > TURNED_IOD)

    def turned_at(self, frame: int) -> bool:
        """Whether the head may have turned in depth between the reference and `frame`: a similarity leaves more
        than the landmarks' noise floor, or the head moved (MOVED_IOD), when a small turn hides under that floor."""
        moved = self.moved_iod is not None and bool(self.moved_iod[frame] > MOVED_IOD)
        return moved or bool(self.parallax_iod(frame) > TURNED_IOD)

    def to_dict(self, apex: int, trusted: bool) -> dict:
        def r(v):
            return [None if not np.isfinite(x) else round(float(x), 4) for x in v]

        return {"reference_frame": self.reference, "model": self.model, "residual_iod": r(self.residual_iod),
                "residual_2d_iod": r(self.residual_2d_iod), "max_residual_iod": _nanmax(self.residual_iod),
                "apex_parallax_iod": round(self.parallax_iod(apex), 4), "trusted": trusted}


def _nanmax(v: np.ndarray) -> float | None:
    return round(float(np.nanmax(v)), 4) if np.isfinite(v).any() else None


def _design(points: np.ndarray, depth: np.ndarray, model: str) -> np.ndarray:
    """(N, k) columns of the fitted model for crop points (N, 2) with depths (N,)."""
    x, y, one = points[:, 0], points[:, 1], np.ones(len(points))
    cols = [x, y] + ([depth] if model == "depth" else []) + [one]
    return np.stack(cols, axis=1)


def _fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(2, 4) map (x, y, z, 1) -> dst of the least-squares similarity src -> dst (no depth term):
    x' = p x - q y + tx, y' = q x + p y + ty."""
    n = len(src)
    a = np.zeros((2 * n, 4))
    a[0::2] = np.stack([src[:, 0], -src[:, 1], np.ones(n), np.zeros(n)], 1)
    a[1::2] = np.stack([src[:, 1], src[:, 0], np.zeros(n), np.ones(n)], 1)
    (p, q, tx, ty), *_ = np.linalg.lstsq(a, dst.reshape(-1), rcond=None)
    return np.array([[p, -q, 0.0, tx], [q, p, 0.0, ty]])


def _fit_rigid(src: np.ndarray, depth: np.ndarray, dst: np.ndarray, iterations: int = RIGID_ITERATIONS) -> np.ndarray:
    """(2, 4) map of a rigid head seen by an affine camera: s R[:2] (x, y, z) + c, R a rotation. The general
    affine-plus-parallax fit has two more degrees of freedom (shear, stretch), which an expression moving the
    fitted points (a cheek raise lifts the eye corners) uses to squeeze the face; a rigid head has none.
    Gauss-Newton on (s, small rotation), started from the nearest scaled rotation to the general fit."""
    x = np.column_stack([src, depth])
    xc, yc = x - x.mean(axis=0), dst - dst.mean(axis=0)
    m, *_ = np.linalg.lstsq(xc, yc, rcond=None)  # (3, 2): the general fit, m.T = A | d
    u, sv, vt = np.linalg.svd(m.T, full_matrices=False)  # (2, 2), (2,), (2, 3)
    rows, scale = u @ vt, float(sv.mean())
    rot = np.vstack([rows, np.cross(rows[0], rows[1])])
    for _ in range(iterations):
        p = xc @ rot[:2].T  # (N, 2)
        # d/dw of R (x + w x x) = -R [x]x w; columns: d/ds, d/dw
        jw = -np.einsum("ij,njk->nik", rot[:2], _skew(xc)) * scale  # (N, 2, 3)
        jac = np.concatenate([p[..., None], jw], axis=2).reshape(-1, 4)
        step, *_ = np.linalg.lstsq(jac, (yc - scale * p).reshape(-1), rcond=None)
        scale += step[0]
        rot = _orthonormal(rot @ (np.eye(3) + _skew(step[1:][None])[0]))
    out = np.zeros((2, 4))
    out[:, :3] = scale * rot[:2]
    out[:, 3] = dst.mean(axis=0) - out[:, :3] @ x.mean(axis=0)
    return out


def _skew(v: np.ndarray) -> np.ndarray:
    """(N, 3, 3) cross-product matrices [v]x of vectors (N, 3)."""
    z = np.zeros(len(v))
    return np.stack([np.stack([z, -v[:, 2], v[:, 1]], 1), np.stack([v[:, 2], z, -v[:, 0]], 1),
                     np.stack([-v[:, 1], v[:, 0], z], 1)], 1)


def _orthonormal(r: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(r)
    return u @ vt


def fit_map(src: np.ndarray, depth: np.ndarray, dst: np.ndarray, model: str = "depth") -> np.ndarray:
    """(2, 4) map taking crop points `src` (N, 2) with depths (N,) to frame points `dst` (N, 2)."""
    if model == "similarity":
        return _fit_similarity(src, dst)
    if model == "depth":
        return _fit_rigid(src, depth, dst)
    a = _design(src, depth, model)
    coef, *_ = np.linalg.lstsq(a, dst, rcond=None)  # (k, 2)
    out = np.zeros((2, 4))
    out[:, [0, 1]] = coef[:2].T
    if model == "depth":
        out[:, 2] = coef[2]
    out[:, 3] = coef[-1]
    return out


def apply_map(m: np.ndarray, points: np.ndarray, depth: np.ndarray) -> np.ndarray:
    return points @ m[:, :2].T + depth[:, None] * m[:, 2] + m[:, 3]


def landmark_depth(iod: float) -> np.ndarray:
    """(68,) depth of each landmark towards the camera, crop pixels for a face `iod` px across the eyes."""
    return mean_face()[:, 2] * iod


def _face_points(landmarks: np.ndarray, iod: float) -> tuple[np.ndarray, np.ndarray]:
    """The landmarks plus forehead points above the brows (N, 2), and their depths (N,)."""
    z = landmark_depth(iod)
    forehead = landmarks[17:27] + np.array([0.0, -FOREHEAD_IOD * iod])
    return np.vstack([landmarks, forehead]), np.concatenate([z, z[17:27] - FOREHEAD_SLOPE * FOREHEAD_IOD * iod])


def depth_map(landmarks: np.ndarray, iod: float, size: int) -> np.ndarray:
    """(size, size) float32 depth of every crop pixel: the landmarks' (and forehead's) depths interpolated
    linearly over their Delaunay triangles and carried to the nearest point outside them."""
    from scipy.spatial import Delaunay

    pts, vals = _face_points(np.asarray(landmarks, np.float64), iod)
    step = size / DEPTH_GRID
    gy, gx = np.mgrid[0:DEPTH_GRID, 0:DEPTH_GRID] * step + step / 2
    q = np.stack([gx.ravel(), gy.ravel()], 1)[:, None, :]  # (P, 1, 2)
    tri = Delaunay(pts).simplices
    a, b, c = pts[tri[:, 0]], pts[tri[:, 1]], pts[tri[:, 2]]  # (K, 2)
    e1, e2, d = b - a, c - a, q - a  # d: (P, K, 2)
    den = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    den = np.where(np.abs(den) > 1e-9, den, np.nan)  # a collapsed triangle covers nothing
    l1 = (d[..., 0] * e2[:, 1] - e2[:, 0] * d[..., 1]) / den
    l2 = (e1[:, 0] * d[..., 1] - d[..., 0] * e1[:, 1]) / den
    l0 = 1.0 - l1 - l2
    inside = (l0 >= -1e-6) & (l1 >= -1e-6) & (l2 >= -1e-6)
    z = l0 * vals[tri[:, 0]] + l1 * vals[tri[:, 1]] + l2 * vals[tri[:, 2]]
    seen = np.where(inside, z, -np.inf).max(axis=1)  # on a shared edge both triangles agree
    near = vals[np.argmin(((q[:, 0, :][:, None, :] - pts) ** 2).sum(-1), axis=1)]
    grid = np.where(np.isfinite(seen), seen, near).reshape(DEPTH_GRID, DEPTH_GRID).astype(np.float32)
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_LINEAR)


def _residual(m: np.ndarray, src: np.ndarray, depth: np.ndarray, dst: np.ndarray, scale: float) -> float:
    return float(np.sqrt(((apply_map(m, src, depth) - dst) ** 2).sum(axis=1).mean()) / scale)


def register(landmarks: np.ndarray, reference: int, size: int, model: str = "depth") -> Registration:
    """Per-frame maps onto the crop of frame `reference`, from tracked landmarks (T, 68, 2) (NaN = lost);
    a lost frame takes the map of the nearest tracked frame, a lost reference the nearest tracked one."""
    if model not in MODELS:
        raise ConfigError(f"unknown registration model {model!r}; choose one of {', '.join(MODELS)}")
    tracked = np.flatnonzero(~np.isnan(landmarks).any(axis=(1, 2)))
    if not len(tracked):
        raise FaceError("the face was lost on every frame: nothing to register")
    reference = int(tracked[np.argmin(np.abs(tracked - reference))])
    ref_lm = landmarks[reference].astype(np.float64)
    to_crop = eye_alignment(ref_lm, size)
    crop_lm = ref_lm @ to_crop[:, :2].T + to_crop[:, 2]
    left, right = eye_centres(crop_lm)
    iod = float(np.linalg.norm(right - left))
    idx = list(STABLE_POINTS)
    src, depth = crop_lm[idx], landmark_depth(iod)[idx]
    t = len(landmarks)
    maps = np.full((t, 2, 4), np.nan)
    residual, residual_2d, from_ref = np.full(t, np.nan), np.full(t, np.nan), np.full(t, np.nan)
    ref_map = fit_map(src, depth, ref_lm[idx], "similarity")  # the inverse of to_crop
    for i, lm in enumerate(landmarks):
        if np.isnan(lm).any():
            continue
        dst = lm[idx].astype(np.float64)
        scale = float(np.linalg.norm(np.subtract(*eye_centres(lm))))  # this frame's IOD, frame pixels
        flat = fit_map(src, depth, dst, "similarity")
        residual_2d[i] = _residual(flat, src, depth, dst, scale)
        full = flat if residual_2d[i] <= FLAT_IOD or model == "similarity" else fit_map(src, depth, dst, model)
        # blended in as the head leaves the reference place, so small drifts never jump from one map to the other
        from_ref[i] = _residual(ref_map, src, depth, dst, scale)
        moved = min(max(from_ref[i] / STILL_IOD - 1.0, 0.0), 1.0)
        maps[i] = ref_map + moved * (full - ref_map)
        residual[i] = _residual(maps[i], src, depth, dst, scale)
    for i in np.flatnonzero(~np.isfinite(maps[:, 0, 0])):
        maps[i] = maps[tracked[np.argmin(np.abs(tracked - i))]]
    depth_px = depth_map(crop_lm, iod, size) if model == "depth" else np.zeros((size, size), np.float32)
    return Registration(reference, to_crop, maps, crop_lm.astype(np.float32), iod, residual, residual_2d, model,
                        size, depth_px, from_ref)


def warp_frames(frames: np.ndarray, reg: Registration, which: list[int] | None = None) -> np.ndarray:
    """Frames (T, H, W[, C]) sampled onto the reference crop: (len(which), S, S[, C]), same dtype."""
    size = reg.size
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    z = reg.depth
    out = []
    for i in range(len(frames)) if which is None else which:
        m = reg.maps[i].astype(np.float32)
        map_x = m[0, 0] * xs + m[0, 1] * ys + m[0, 2] * z + m[0, 3]
        map_y = m[1, 0] * xs + m[1, 1] * ys + m[1, 2] * z + m[1, 3]
        out.append(cv2.remap(frames[i], map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    return np.stack(out)


# Past this parallax between onset and apex (what a 2D registration leaves on the stable landmarks, IOD),
# the depth model's errors reach the size of micro-expression motion: measured in benchmarks/README.
MAX_PARALLAX_IOD = 0.05


def trusted(reg: Registration, apex: int) -> bool:
    return not reg.parallax_iod(apex) > MAX_PARALLAX_IOD  # NaN (face lost at the apex) is not trusted


def registration_warnings(reg: Registration, apex: int) -> list[str]:
    if trusted(reg, apex):
        return []
    p = reg.parallax_iod(apex)
    what = "the face was lost at the apex" if not np.isfinite(p) else (
        f"the head turned in depth between onset and apex (parallax {p:.3f} IOD; a registration is trusted up "
        f"to {MAX_PARALLAX_IOD:.3f})")
    return [f"can't trust a 2D registration here: {what}; face motion measured here may be head motion, so "
            "no AU is reported as confident"]
