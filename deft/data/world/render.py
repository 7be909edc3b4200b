"""Render a FaceTrack: per frame, the expression moves the mesh in the face's own axes, the head pose
rotates and projects it, one piecewise-affine warp samples the photo, a dark cavity shows between
parted lips, and motion blur follows the face's own motion."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deft.data.world.expression import expression_bases
from deft.data.world.identity import Identity
from deft.data.world.mesh import Pose, project
from deft.data.world.raster import warp
from deft.data.world.track import Camera, FaceTrack
from deft.errors import ConfigError

UPPER_INNER, LOWER_INNER = (61, 62, 63), (67, 66, 65)  # inner lip points facing each other
CAVITY_RGB = (34, 16, 18)  # the dark of an open mouth
CAVITY_OPACITY = 0.92
MIN_OPENING = 0.008  # IOD: thinner openings draw no cavity


@dataclass
class Rendered:
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB, clean (no sensor noise, lighting or compression)
    landmarks: np.ndarray  # (T, 68, 2) float32 true landmark positions in output pixels (pose + expression)


def pose_at(track: FaceTrack, camera: Camera, t: int) -> Pose:
    """The head pose of frame t in output pixels."""
    cx, cy = track.centre[t]
    return Pose(float(track.yaw[t]), float(track.pitch[t]), float(track.roll[t]),
                camera.iod_px * float(track.scale[t]), (cx * camera.width, cy * camera.height))


class _Scene:
    """What is computed once per call: the mesh, the expression bases and weights, the texture level."""

    def __init__(self, identity: Identity, track: FaceTrack, camera: Camera):
        self.mesh = identity.mesh
        self.camera = camera
        self.track = track
        self.bases, self.weights = expression_bases(self.mesh, track.aus, track.n_frames)
        self.flat = self.bases.reshape(len(self.bases), 2 * len(self.mesh.points))
        self.image, scale, pad = identity.texture(camera.iod_px * float(np.max(track.scale)))
        self.to_texture = self.mesh.to_photo * scale  # canonical -> texture px
        self.to_texture[:, 2] += pad
        self.texture = self.mesh.points[:, :2] @ self.to_texture[:, :2].T + self.to_texture[:, 2]
        self.background = self.mesh.background

    def points(self, t: int) -> np.ndarray:
        """(V, 3) canonical vertices with frame t's expression."""
        pts = self.mesh.points.copy()
        if len(self.flat):
            pts[:, :2] += (self.weights[t] @ self.flat).reshape(-1, 2)
        return pts

    def place(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, Pose]:
        """Frame t: canonical vertices (V, 3), output pixels (V, 2), depth (V,), pose."""
        pose = pose_at(self.track, self.camera, t)
        pts = self.points(t)
        out, depth = project(pts, pose)
        n = self.mesh.n_face
        out[n:] = pts[n:, :2] * pose.iod_px + np.asarray(pose.centre)  # the background square never turns
        return pts, out, depth, pose

    def frame(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        pts, out, depth, pose = self.place(t)
        tri = self.mesh.triangles
        far_first = np.lexsort((depth[tri].mean(axis=1), ~self.background))
        frame = warp(self.image, out, self.texture, tri, far_first, self._outside(pose),
                     (self.camera.width, self.camera.height), cull=~self.background, behind=self.background)
        _draw_cavity(frame, pts, self.mesh.points, pose)
        if self.camera.motion_blur > 0:
            frame = self._blur(frame, t)
        return frame, out[:68].astype(np.float32)

    def _outside(self, pose: Pose) -> np.ndarray:
        """Output px -> texture px beyond the background square: the unrotated photo, scaled and moved with
        the face."""
        a = self.to_texture[:, :2] / pose.iod_px
        return np.hstack([a, (self.to_texture[:, 2] - a @ np.asarray(pose.centre))[:, None]])

    def _blur(self, frame: np.ndarray, t: int) -> np.ndarray:
        """Linear motion blur along the head's motion from the previous frame (the next one at frame 0);
        the expression's own motion does not count (it moves a part of the face, not the camera's view)."""
        other = t - 1 if t > 0 else min(t + 1, self.track.n_frames - 1)
        rest = self.mesh.points[:68]
        now, _ = project(rest, pose_at(self.track, self.camera, t))
        before, _ = project(rest, pose_at(self.track, self.camera, other))
        return motion_blur(frame, (now - before).mean(axis=0) * self.camera.motion_blur)


def motion_blur(frame: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """Average of the frame along a motion vector (px); under one pixel of motion it is left as is."""
    length = float(np.hypot(*motion))
    if length < 1.0:
        return frame
    size = int(np.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    d = motion / length * (length / 2)
    cv2.line(kernel, (int(round(c * 16 - d[0] * 16)), int(round(c * 16 - d[1] * 16))),
             (int(round(c * 16 + d[0] * 16)), int(round(c * 16 + d[1] * 16))), 1.0, 1, cv2.LINE_AA, 4)
    return cv2.filter2D(frame, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT_101)


def _draw_cavity(frame: np.ndarray, pts: np.ndarray, rest: np.ndarray, pose: Pose) -> None:
    """Darken the mouth where the lips part beyond their rest opening (in place). The dark band runs from
    the upper to the lower inner lip, each moved in by half its rest gap (a photo's own open mouth or
    teeth stay as they are)."""
    up, low = list(UPPER_INNER), list(LOWER_INNER)
    rest_gap = np.maximum(rest[low, 1] - rest[up, 1], 0.0)
    if np.max(pts[low, 1] - pts[up, 1] - rest_gap) < MIN_OPENING:
        return
    top, bottom = pts[up].copy(), pts[low].copy()
    top[:, 1] += rest_gap / 2
    bottom[:, 1] -= rest_gap / 2
    band = np.concatenate([pts[[60]], top, pts[[64]], bottom[::-1]])
    poly, _ = project(band, pose)
    h, w = frame.shape[:2]
    x0, y0 = np.floor(poly.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round((poly - [x0, y0]) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    alpha = mask.astype(np.float32)[..., None] * (CAVITY_OPACITY / 255)
    patch = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = (patch * (1 - alpha) + np.array(CAVITY_RGB, np.float32) * alpha + 0.5).astype(np.uint8)


def render_face(identity: Identity, track: FaceTrack, camera: Camera, start: int = 0,
                stop: int | None = None) -> Rendered:
    """Frames [start, stop) of a track at the camera's size; any split into chunks renders the same frames."""
    stop = track.n_frames if stop is None else stop
    if not 0 <= start <= stop <= track.n_frames:
        raise ConfigError(f"frames [{start}, {stop}) are outside the track's {track.n_frames} frames")
    scene = _Scene(identity, track, camera)
    frames = np.zeros((stop - start, camera.height, camera.width, 3), np.uint8)
    landmarks = np.zeros((stop - start, 68, 2), np.float32)
    for i, t in enumerate(range(start, stop)):
        frames[i], landmarks[i] = scene.frame(t)
    return Rendered(frames, landmarks)
