"""Per-frame 3D facial point clouds: 68 landmarks lifted with the fitted head pose, pose removed.

A frame's 2D landmarks and its pose (deft.tracking.pose, solvePnP on the mean 3D face) give a
weak-perspective fit: scale and image offset by least squares on the rigid points. Each landmark is
back-projected at the mean face's depth (rotated by the pose), and the inverse rotation takes the points
to canonical face coordinates (deft.face3d: x right, y down, z to the camera, IOD units). What moved in
the image plane (expression) stays; the depth is the mean face's, not measured. The denser set adds the
centroids of a fixed triangulation of the mean face: an interpolation of the landmarks, not new evidence.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.spatial import Delaunay

from deft.data.world.mesh import Pose
from deft.face3d import mean_face
from deft.tracking.pose import RIGID_POINTS, head_pose


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """(3, 3) canonical-frame rotation of a head pose in degrees (the world's and perception's convention)."""
    return Pose(yaw, pitch, roll, 1.0, (0.0, 0.0)).rotation()


@lru_cache(maxsize=1)
def dense_triangles() -> np.ndarray:
    """(F, 3) landmark indices: a Delaunay triangulation of the mean face's x, y."""
    return Delaunay(mean_face()[:, :2]).simplices.astype(np.int64)


def densify(points: np.ndarray) -> np.ndarray:
    """(..., 68, 3) -> (..., 68 + F, 3): the landmarks followed by the centroids of dense_triangles()."""
    return np.concatenate([points, points[..., dense_triangles(), :].mean(axis=-2)], axis=-2)


def lift_frame(landmarks: np.ndarray, yaw: float, pitch: float, roll: float) -> np.ndarray:
    """(68, 2) frame pixels + pose (degrees) -> (68, 3) pose-removed canonical points (IOD units)."""
    rot = rotation(yaw, pitch, roll)
    model = mean_face() @ rot.T  # the mean face turned like the head
    idx = list(RIGID_POINTS)
    xy, img = model[idx, :2], landmarks[idx]
    mx, mi = xy.mean(axis=0), img.mean(axis=0)
    scale = float(np.sum((xy - mx) * (img - mi)) / max(np.sum((xy - mx) ** 2), 1e-9))
    offset = mi - scale * mx
    camera = np.column_stack([(landmarks - offset) / scale, model[:, 2]])
    return camera @ rot  # rot is orthonormal: undo the turn


def lift_clip(landmarks: np.ndarray, frame_size: tuple[int, int], dense: bool = True) -> np.ndarray:
    """(T, 68, 2) landmarks of one clip -> (T, N, 3) point clouds; NaN on frames whose face was lost."""
    pose = head_pose(landmarks, frame_size)
    n_points = 68 + (len(dense_triangles()) if dense else 0)
    out = np.full((len(landmarks), n_points, 3), np.nan)
    for t, lm in enumerate(landmarks):
        angles = (pose.yaw[t], pose.pitch[t], pose.roll[t])
        if np.isfinite(angles).all() and np.isfinite(lm).all():
            pts = lift_frame(lm, *angles)
            out[t] = densify(pts) if dense else pts
    return out
