"""AU motion on the mesh, in the face's own canonical axes (IOD units), before any head pose.

Each (AU, side) is a per-vertex displacement basis for unit intensity; a frame's expression is their sum
weighted by the track's intensities. Most AUs reuse the Gaussian bumps of deft.data.synthetic; the
eyelids (AU5 raise, AU43/45/46 closure) and the parting of the lips and jaw (AU25, AU26) have fields
of their own, because they open or close a gap instead of sliding skin.
"""

from __future__ import annotations

import numpy as np

from deft.data.synthetic import AU_BUMPS, placed_bumps
from deft.data.world.mesh import FaceMesh
from deft.data.world.track import CLOSURE_AUS
from deft.errors import ConfigError

BUMP_AUS = tuple(au for au in AU_BUMPS if au != "AU25")  # AU25 parts the lips here (MOUTH_AUS)
LID_AUS = ("AU5",)
MOUTH_AUS = ("AU25", "AU26")
WORLD_AUS = tuple(sorted(BUMP_AUS + LID_AUS + MOUTH_AUS + CLOSURE_AUS, key=lambda a: int(a[2:])))
SIDES = ("both", "left", "right")

# Eyes as (upper lid, lower lid) landmark runs from corner to corner, left to right in the image.
EYES = {"right": ((36, 37, 38, 39), (36, 41, 40, 39)), "left": ((42, 43, 44, 45), (42, 47, 46, 45))}
# IOD above the upper lid over which a closing lid's skin stretches. Chosen over 0.14/0.2/0.3 by dlib's
# eye aspect ratio on all IDENTITIES at full closure (closed/open: mean .66, worst .88; at 0.2 glasses
# rims slid down with the lid and read as an open eye, worst 1.37); it also leaves the brows still.
LID_SKIN = 0.1
LID_RAISE_SKIN = 0.15  # the same for a raised lid (AU5)
UPPER_LIP, LOWER_LIP = (49, 50, 51, 52, 53, 61, 62, 63), (55, 56, 57, 58, 59, 65, 66, 67)
MOUTH_CORNERS = (48, 54, 60, 64)
JAW_WIDTH = 0.9  # IOD: a dropped jaw moves its sides less than the chin (rotation about the ears)


def _eye_lids(points: np.ndarray, lm: np.ndarray, eye: str):
    """Per vertex: upper and lower lid height at its x, the aperture (0 outside the eye's width)."""
    upper, lower = (lm[list(run)] for run in EYES[eye])
    x = points[:, 0]
    yu = np.interp(x, upper[:, 0], upper[:, 1])
    yl = np.interp(x, lower[:, 0], lower[:, 1])
    within = (x > upper[0, 0]) & (x < upper[-1, 0])
    return yu, yl, np.where(within, np.maximum(yl - yu, 0.0), 0.0)


def closure_basis(mesh: FaceMesh, eye: str) -> np.ndarray:
    """(V, 2) full closure of one eye: the upper lid comes down to the lower lid, the eye's opening folds
    onto the lower lid, and the lid skin above stretches down with it."""
    points = mesh.points[:, :2]
    yu, yl, aperture = _eye_lids(points, points[:68], eye)
    y = points[:, 1]
    between = (aperture > 0) & (y >= yu) & (y <= yl)
    dy = np.where(between, yl - y, aperture * np.exp(-0.5 * ((yu - y) / LID_SKIN) ** 2) * (y < yu))
    return np.stack([np.zeros_like(dy), dy], 1)


def raise_basis(mesh: FaceMesh, eye: str) -> np.ndarray:
    """(V, 2) AU5: the upper lid lifted by 1 IOD at its widest point, the eye opening widening."""
    points = mesh.points[:, :2]
    yu, yl, aperture = _eye_lids(points, points[:68], eye)
    widest = max(aperture.max(), 1e-6)
    y = points[:, 1]
    between = (aperture > 0) & (y >= yu) & (y <= yl)
    dy = np.where(between, -(yl - y) / widest,
                  -(aperture / widest) * np.exp(-0.5 * ((yu - y) / LID_RAISE_SKIN) ** 2) * (y < yu))
    return np.stack([np.zeros_like(dy), dy], 1)


def _lip_parts(points: np.ndarray, lm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per vertex: below the lip line, above it, a mouth corner (landmarks by name, others by place)."""
    line = np.stack([lm[60], (lm[61] + lm[67]) / 2, (lm[62] + lm[66]) / 2, (lm[63] + lm[65]) / 2, lm[64]])
    below = points[:, 1] > np.interp(points[:, 0], line[:, 0], line[:, 1])
    below[list(UPPER_LIP)] = False
    below[list(LOWER_LIP)] = True
    corner = np.zeros(len(points), bool)
    corner[list(MOUTH_CORNERS)] = True
    below &= ~corner
    return below, ~below & ~corner, corner


def _fall(distance: np.ndarray, sigma: float) -> np.ndarray:
    """1 up to distance 0, then a Gaussian decay."""
    return np.where(distance <= 0, 1.0, np.exp(-0.5 * (np.maximum(distance, 0) / sigma) ** 2))


def lips_basis(mesh: FaceMesh) -> np.ndarray:
    """(V, 2) AU25: the lower lip drops by 1 IOD at its middle and the upper lip lifts a little."""
    points = mesh.points[:, :2]
    lm = points[:68]
    below, above, corner = _lip_parts(points, lm)
    x, y = points[:, 0], points[:, 1]
    width = abs(lm[54, 0] - lm[48, 0]) / 2
    across = np.exp(-0.5 * ((x - (lm[48, 0] + lm[54, 0]) / 2) / (0.8 * width)) ** 2)
    down = across * _fall(y - lm[57, 1], 0.25)
    up = -0.3 * across * _fall(lm[51, 1] - y, 0.12)
    dy = np.where(below, down, np.where(above, up, 0.5 * (down + up) * corner))
    return np.stack([np.zeros_like(dy), dy], 1)


def jaw_basis(mesh: FaceMesh) -> np.ndarray:
    """(V, 2) AU26: the chin drops by 1 IOD, the lower lip and the jaw's sides a little less."""
    points = mesh.points[:, :2]
    lm = points[:68]
    below, _, corner = _lip_parts(points, lm)
    x, y = points[:, 0], points[:, 1]
    lip_y, chin_y = (lm[62, 1] + lm[66, 1]) / 2, lm[8, 1]
    share = 0.7 + 0.3 * np.clip((y - lip_y) / max(chin_y - lip_y, 1e-6), 0, 1)
    drop = share * np.exp(-0.5 * ((x - lm[8, 0]) / JAW_WIDTH) ** 2) * _fall(y - chin_y, 0.3)
    dy = np.where(below, drop, 0.5 * drop * corner)
    return np.stack([np.zeros_like(dy), dy], 1)


def bump_basis(mesh: FaceMesh, au: str, side: str) -> np.ndarray:
    """(V, 2) an AU of synthetic.py's bump table at 1 IOD amplitude."""
    points = mesh.points[:, :2]
    out = np.zeros_like(points)
    for cx, cy, sigma, d, weight in placed_bumps(au, points[:68], side, 1.0):
        g = np.exp(-((points[:, 0] - cx) ** 2 + (points[:, 1] - cy) ** 2) / (2 * sigma**2))
        out += (weight * g)[:, None] * d
    return out


def _eyes(side: str) -> tuple[str, ...]:
    return ("right", "left") if side == "both" else (side,)


def au_basis(mesh: FaceMesh, au: str, side: str) -> np.ndarray:
    """(V, 2) displacement of every vertex for unit intensity of a non-closure AU on a side (IOD)."""
    if side not in SIDES:
        raise ConfigError(f"unknown side {side!r} for {au}; choose one of {', '.join(SIDES)}")
    if au in BUMP_AUS:
        out = bump_basis(mesh, au, side)
    elif au == "AU5":
        out = sum(raise_basis(mesh, eye) for eye in _eyes(side))
    elif au == "AU25":
        out = lips_basis(mesh)
    elif au == "AU26":
        out = jaw_basis(mesh)
    else:
        raise ConfigError(f"the renderer has no motion for {au}; choose from {', '.join(WORLD_AUS)}")
    out[mesh.n_face:] = 0.0  # the background does not move
    return out


def expression_bases(mesh: FaceMesh, aus: dict[tuple[str, str], np.ndarray], n_frames: int):
    """The per-clip precomputation: bases (K, V, 2) and per-frame weights (T, K) such that the expression
    of frame t is weights[t] @ bases. Closure AUs add up per eye and saturate at a closed eye."""
    keys = sorted(aus)
    bases, weights, closure = [], [], {}
    for au, side in keys:
        intensity = np.asarray(aus[(au, side)], np.float64)
        if au in CLOSURE_AUS:
            if side not in SIDES:
                raise ConfigError(f"unknown side {side!r} for {au}; choose one of {', '.join(SIDES)}")
            for eye in _eyes(side):
                closure[eye] = closure.get(eye, 0.0) + intensity
            continue
        bases.append(au_basis(mesh, au, side))
        weights.append(intensity)
    for eye in sorted(closure):
        basis = closure_basis(mesh, eye)
        basis[mesh.n_face:] = 0.0
        bases.append(basis)
        weights.append(np.clip(closure[eye], 0.0, 1.0))
    if not bases:
        return np.zeros((0, len(mesh.points), 2)), np.zeros((n_frames, 0))
    return np.stack(bases), np.stack(weights, 1)
