"""Head pose (yaw, pitch, roll in degrees) from 68 landmarks: cv2.solvePnP on the mean 3D face.

Angles follow deft.data.world.track's conventions, so truth and measurement compare directly: yaw > 0
turns the face towards the image right, pitch > 0 tilts the chin down, roll > 0 turns the face clockwise
in the image. The rotation is R = Rz(roll) Ry(yaw) Rx(pitch) in canonical face coordinates (x right,
y down, z towards the camera; deft.face3d). It is measured against the line of sight to where the face sits
over the frames given, not the camera's axis: how turned the face looks, wherever it is in the frame (a
face off-centre that faces the camera reads 0, as the world renderer's weak perspective draws it; two
people side by side each read their own pose).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deft.face3d import MEAN_FACE_IOD, mean_face

# Points whose place on the head an expression hardly moves: the upper face outline near the ears, the
# nose, the eye corners. Brows, eyelids, lips and the lower jaw move with AUs, speech and blinks.
RIGID_POINTS = (0, 1, 2, 14, 15, 16, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45)
# Focal length as a share of the frame's longer side: a typical webcam or phone camera (about 60° across).
FOCAL_SHARE = 0.9
# cv2's object frame has z away from the camera; the canonical face has z towards it.
_FLIP = np.diag([1.0, 1.0, -1.0])


@dataclass
class HeadPose:
    """Per-frame head pose in degrees; NaN where the face was lost."""

    yaw: np.ndarray  # (T,)
    pitch: np.ndarray  # (T,)
    roll: np.ndarray  # (T,)

    def range(self) -> dict[str, float]:
        """max - min of each angle over the frames where it was measured (0 when at most one was)."""
        return {k: float(np.nanmax(v) - np.nanmin(v)) if np.isfinite(v).sum() > 1 else 0.0
                for k, v in self.angles().items()}

    def angles(self) -> dict[str, np.ndarray]:
        return {"yaw": self.yaw, "pitch": self.pitch, "roll": self.roll}

    def to_dict(self) -> dict[str, list[float | None]]:
        return {k: [None if not np.isfinite(x) else round(float(x), 2) for x in v] for k, v in self.angles().items()}


def _sight(t: np.ndarray) -> np.ndarray:
    """The rotation turning the camera's axis onto the line of sight to a point t (cv2 camera coordinates)."""
    ray = t / np.linalg.norm(t)
    axis = np.cross([0.0, 0.0, 1.0], ray)
    s = float(np.linalg.norm(axis))
    if s < 1e-12:
        return np.eye(3)
    rot, _ = cv2.Rodrigues(axis / s * np.arctan2(s, ray[2]))
    return rot


def euler_from_rotation(rot: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) degrees of a canonical-frame rotation R = Rz(roll) Ry(yaw) Rx(pitch)."""
    yaw = np.arcsin(np.clip(-rot[2, 0], -1.0, 1.0))
    pitch = np.arctan2(-rot[2, 1], rot[2, 2])
    roll = np.arctan2(rot[1, 0], rot[0, 0])
    return tuple(float(np.degrees(a)) for a in (yaw, pitch, roll))


def head_pose(landmarks: np.ndarray, frame_size: tuple[int, int]) -> HeadPose:
    """Pose of every frame of (T, 68, 2) landmarks in frame pixels; frame_size is (width, height)."""
    idx = list(RIGID_POINTS)
    model = np.ascontiguousarray((mean_face()[idx] @ _FLIP) * MEAN_FACE_IOD)
    w, h = frame_size
    f = FOCAL_SHARE * max(w, h)
    camera = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], np.float64)
    solved: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # frame -> (rotation, translation), cv2 camera frame
    guess = None
    for t, lm in enumerate(landmarks):
        if np.isnan(lm).any():
            guess = None
            continue
        image = np.ascontiguousarray(lm[idx], np.float64)
        if guess is None:
            ok, rvec, tvec = cv2.solvePnP(model, image, camera, None, flags=cv2.SOLVEPNP_SQPNP)  # global
        else:
            ok, rvec, tvec = cv2.solvePnP(model, image, camera, None, guess[0].copy(), guess[1].copy(), True,
                                          cv2.SOLVEPNP_ITERATIVE)
        if not ok or tvec[2, 0] <= 0:  # a face behind the camera is no solution
            guess = None
            continue
        guess = (rvec, tvec)
        solved[t] = (cv2.Rodrigues(rvec)[0], tvec[:, 0])
    out = np.full((len(landmarks), 3), np.nan)
    for t, (rot_cv, _) in solved.items():
        out[t] = euler_from_rotation(_FLIP @ rot_cv @ _FLIP)
    if solved:
        # less the angles of one line of sight per face, through where it sits over the frames: an offset, so
        # pose changes stay as measured (a per-frame sight would follow the face's sideways shift as the head
        # turns about the neck and take part of the turn away)
        out -= euler_from_rotation(_FLIP @ _sight(np.median([t for _, t in solved.values()], axis=0)) @ _FLIP)
    return HeadPose(out[:, 0], out[:, 1], out[:, 2])
