"""A face mesh in depth fitted to one photo's 68 landmarks: canonical 3D vertices, their photo texture
positions, and a triangulation; posed and projected per frame.

Canonical face coordinates: origin between the eye centres, x towards the image right, y down, z towards
the camera, unit = the inter-ocular distance (IOD). x and y of the landmarks come from the photo (assumed
roughly frontal); their depth comes from a mean face (MEAN_FACE_DEPTH); the other vertices (forehead, an
interior grid, a head outline ring) get depths interpolated from those, and a square of background
vertices around the head is never rotated (the room does not turn with the head).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Only the depth column of the mean face is used: x and y come from each photo.
from deft.face3d import MEAN_FACE_DEPTH, MEAN_FACE_IOD

EYE_DEPTH = MEAN_FACE_DEPTH[36:48].mean()

BROWS = tuple(range(17, 27))
FOREHEAD_RISE = (0.35, 0.75)  # forehead rows above each brow point, IOD
FOREHEAD_SLOPE = 0.25  # the forehead leans back: depth lost per IOD of height above the brows
RING_CENTRE, RING_RADII, RING_DEPTH = (0.0, 0.25), (1.5, 1.8), -0.9  # head outline (hair, ears, neck), IOD
RING_POINTS = 24
GRID_STEP = 0.25  # interior vertices, IOD
GRID_CLEARANCE = 0.09  # no grid vertex this close to a landmark (keeps eye and lip outlines as mesh edges)
BORDER_HALF = 2.7  # half side of the background square around the ring's centre, IOD
BORDER_POINTS = 4  # per side


@dataclass(frozen=True, eq=False)
class FaceMesh:
    """Vertices in canonical face coordinates; the first 68 are the landmarks, background ones last."""

    points: np.ndarray  # (V, 3) float64 canonical x, y, z (IOD)
    triangles: np.ndarray  # (F, 3) int32 vertex indices
    n_face: int  # vertices [0, n_face) rotate with the head; [n_face, V) are the background square
    to_photo: np.ndarray  # (2, 3) canonical (IOD) -> photo pixels, a similarity

    @property
    def texture(self) -> np.ndarray:
        """(V, 2) photo pixel of every vertex at rest."""
        return self.points[:, :2] @ self.to_photo[:, :2].T + self.to_photo[:, 2]

    @property
    def background(self) -> np.ndarray:
        """(F,) True for triangles touching the background square (drawn first, behind the head)."""
        return (self.triangles >= self.n_face).any(axis=1)


def canonical_frame(landmarks: np.ndarray) -> np.ndarray:
    """Similarity (2, 3) taking canonical coordinates (IOD, eyes at (-0.5, 0) and (0.5, 0)) to photo pixels."""
    left, right = landmarks[36:42].mean(axis=0), landmarks[42:48].mean(axis=0)
    v = right - left
    c, s = v[0], v[1]  # rotation * scale: canonical unit x maps to the photo's eye vector
    return np.array([[c, -s, (left[0] + right[0]) / 2], [s, c, (left[1] + right[1]) / 2]], np.float64)


def head_outline(n: int, grow: float = 1.0) -> np.ndarray:
    """(n, 2) canonical points of the head's outline ring (hair, ears, neck), enlarged `grow` times."""
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([RING_CENTRE[0] + grow * RING_RADII[0] * np.cos(angle),
                     RING_CENTRE[1] + grow * RING_RADII[1] * np.sin(angle)], 1)


def _to_canonical(to_photo: np.ndarray, pts: np.ndarray) -> np.ndarray:
    a = to_photo[:, :2]
    return (pts - to_photo[:, 2]) @ np.linalg.inv(a).T


def _inside(poly: np.ndarray, pts: np.ndarray) -> np.ndarray:
    from matplotlib.path import Path

    return Path(poly).contains_points(pts)


def build_mesh(landmarks: np.ndarray) -> FaceMesh:
    """The mesh of a photo's face from its 68 landmarks (photo pixels)."""
    from scipy.interpolate import LinearNDInterpolator
    from scipy.spatial import Delaunay

    to_photo = canonical_frame(landmarks.astype(np.float64))
    lm = _to_canonical(to_photo, landmarks.astype(np.float64))
    lm_z = -(MEAN_FACE_DEPTH - EYE_DEPTH) / MEAN_FACE_IOD
    brows = lm[list(BROWS)]
    brow_z = lm_z[list(BROWS)]
    forehead = np.concatenate([brows - [0, rise] for rise in FOREHEAD_RISE])
    forehead_z = np.concatenate([brow_z - FOREHEAD_SLOPE * rise for rise in FOREHEAD_RISE])
    ring = head_outline(RING_POINTS)
    anchors = np.concatenate([lm, forehead, ring])
    anchors_z = np.concatenate([lm_z, forehead_z, np.full(len(ring), RING_DEPTH)])
    # interior grid inside the ring, clear of landmarks and of the eyes' and the inner mouth's openings
    g = np.arange(-2.0, 2.2, GRID_STEP)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2) + [0, RING_CENTRE[1]]
    inside = ((grid - RING_CENTRE) / np.array(RING_RADII) * 1.08) ** 2
    keep = inside.sum(1) < 1.0
    dist = np.linalg.norm(grid[:, None] - anchors[None, :len(lm) + len(forehead)], axis=-1).min(1)
    keep &= dist > GRID_CLEARANCE
    for outline in (lm[36:42], lm[42:48], lm[60:68]):
        keep &= ~_inside(outline, grid)
    grid = grid[keep]
    grid_z = LinearNDInterpolator(anchors, anchors_z)(grid)
    grid_z = np.where(np.isnan(grid_z), RING_DEPTH, grid_z)
    t = np.linspace(-BORDER_HALF, BORDER_HALF, BORDER_POINTS, endpoint=False)
    h = BORDER_HALF
    border = np.concatenate([np.stack([t, -h + 0 * t], 1), np.stack([h + 0 * t, t], 1),
                             np.stack([-t, h + 0 * t], 1), np.stack([-h + 0 * t, -t], 1)]) + [0, RING_CENTRE[1]]
    face = np.concatenate([anchors, grid])
    face_z = np.concatenate([anchors_z, grid_z])
    xy = np.concatenate([face, border])
    points = np.concatenate([xy, np.concatenate([face_z, np.full(len(border), RING_DEPTH)])[:, None]], 1)
    triangles = Delaunay(xy).simplices.astype(np.int32)
    return FaceMesh(points, triangles, len(face), to_photo)


@dataclass(frozen=True)
class Pose:
    """One frame's head pose: angles in degrees (track.py's conventions), IOD in output pixels, the
    eye midpoint's output position."""

    yaw: float
    pitch: float
    roll: float
    iod_px: float
    centre: tuple[float, float]

    def rotation(self) -> np.ndarray:
        """(3, 3): pitch about x (chin down for > 0), then yaw about y (face to the image right for > 0),
        then roll in the image plane (clockwise on screen for > 0); x right, y down, z to the camera."""
        p, y, r = np.radians([self.pitch, self.yaw, self.roll])
        rx = np.array([[1, 0, 0], [0, np.cos(p), np.sin(p)], [0, -np.sin(p), np.cos(p)]])
        ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
        rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
        return rz @ ry @ rx


def project(points: np.ndarray, pose: Pose) -> tuple[np.ndarray, np.ndarray]:
    """Weak-perspective projection of canonical points (N, 3): output pixels (N, 2) and depth (N,)."""
    rotated = points @ pose.rotation().T
    return rotated[:, :2] * pose.iod_px + np.asarray(pose.centre), rotated[:, 2]
