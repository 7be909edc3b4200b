"""Synthetic micro-expression clips of known truth: a real face photo warped by AU-shaped motion.

Each AU is a sum of Gaussian displacement bumps anchored on the photo's 68 landmarks, moving the
way FACS describes (AU12: mouth corners up and outward, ...). The displacement follows a smooth
onset -> apex -> offset profile; slight head drift and sensor noise are added on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from deft.data.faces import FACE_NAMES, face_photo
from deft.errors import ConfigError
from deft.face import detect_faces, eye_centres, landmarks68
from deft.labels import RECIPES, UNILATERAL, composite_of, prototype_label

FRAME_SIZE = 256
EYES_AT = ((0.38, 0.40), (0.62, 0.40))  # where the eyes land in a synthetic frame: IOD = 61 px


@dataclass(frozen=True)
class Bump:
    """A Gaussian displacement bump on the subject's right side (image left); mirrored for the left.

    `direction` is in image coordinates (x right, y down); `offset` and `sigma` in IOD.
    """

    right: tuple[int, ...]
    left: tuple[int, ...]
    direction: tuple[float, float]
    weight: float = 1.0
    offset: tuple[float, float] = (0.0, 0.0)
    sigma: float = 0.14


_UP, _DOWN = (0.0, -1.0), (0.0, 1.0)
AU_BUMPS: dict[str, tuple[Bump, ...]] = {
    "AU1": (Bump((20, 21), (23, 22), _UP),),
    "AU2": (Bump((17, 18), (26, 25), _UP),),
    "AU4": (Bump((20, 21), (23, 22), (0.45, 0.9)), Bump((21, 22, 27), (21, 22, 27), _DOWN, 0.4, (0, -0.05), 0.1)),
    "AU6": (Bump((40, 41, 31, 48), (47, 46, 35, 54), _UP, 1.0, (0.0, 0.0), 0.2),
            Bump((40, 41), (47, 46), _UP, 0.4, (0.0, 0.07), 0.1)),
    "AU7": (Bump((40, 41), (47, 46), (0.15, -1.0), 1.0, (0.0, 0.06), 0.09),),
    "AU9": (Bump((31,), (35,), (0.3, -1.0), 1.0, (-0.06, -0.04), 0.12), Bump((50, 51, 52), (50, 51, 52), _UP, 0.3)),
    "AU10": (Bump((50, 51, 52), (50, 51, 52), _UP, 1.0, (0.0, 0.0), 0.15), Bump((31,), (35,), _UP, 0.25)),
    "AU12": (Bump((48,), (54,), (-0.8, -0.6), 1.0, (0.0, 0.0), 0.15),
             Bump((40, 41, 31, 48), (47, 46, 35, 54), _UP, 0.25, (0.0, 0.0), 0.2)),
    "AU14": (Bump((48,), (54,), (-1.0, 0.05), 1.0, (0.0, 0.0), 0.13),),
    "AU15": (Bump((48,), (54,), (-0.2, 1.0), 1.0, (0.0, 0.0), 0.14),),
    "AU17": (Bump((57, 8, 8), (57, 8, 8), _UP, 1.0, (0.0, -0.02), 0.2), Bump((56, 57, 58), (56, 57, 58), _UP, 0.4)),
    "AU25": (Bump((56, 57, 58), (56, 57, 58), _DOWN, 1.0, (0.0, 0.0), 0.14), Bump((50, 51, 52), (50, 51, 52), _UP, 0.2)),
}
SYNTHETIC_AUS = tuple(AU_BUMPS)

@dataclass(frozen=True)
class SyntheticSpec:
    """Everything that defines one clip; the same spec always renders the same frames."""

    face: str = "astronaut"
    aus: tuple[tuple[str, float], ...] = (("AU6", 2.0), ("AU12", 2.5))  # (AU, apex amplitude in frame px)
    side: str = "both"  # "both" | "left" | "right" (subject's sides)
    n_frames: int = 30
    onset: int = 6
    apex: int = 14
    offset: int = 22
    drift_px: float = 1.0  # head translation reached by the last frame
    drift_deg: float = 0.3  # head roll reached by the last frame
    noise: float = 1.5  # sensor noise sigma, grey levels
    seed: int = 0


@dataclass
class SyntheticClip:
    frames: np.ndarray  # (T, 256, 256, 3) uint8 RGB
    spec: SyntheticSpec
    emotion: str  # fine label
    composite: str | None  # positive | negative | surprise | none; None for `others` (deft.labels)
    landmarks: np.ndarray = field(repr=False, default=None)  # (68, 2) frame-0 landmarks, frame pixels

    @property
    def au_names(self) -> list[str]:
        return [au for au, _ in self.spec.aus]


@lru_cache(maxsize=None)
def _base(face: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(photo, source->frame similarity (2,3), landmarks in frame coordinates) for a named face."""
    photo = face_photo(face)
    boxes = detect_faces(photo)
    if not boxes:
        raise ConfigError(f"no face found in the packaged photo {face!r}")
    lm = landmarks68(photo, boxes[0])
    src = np.array(eye_centres(lm), np.float32)
    dst = np.array(EYES_AT, np.float32) * FRAME_SIZE
    matrix, _ = cv2.estimateAffinePartial2D(src, dst)
    if matrix is None:  # two points define a similarity exactly; compute it directly
        raise ConfigError(f"could not align the packaged photo {face!r}")
    lm_frame = lm @ matrix[:, :2].T + matrix[:, 2]
    return photo, matrix, lm_frame.astype(np.float32)


def displacement_field(aus: tuple[tuple[str, float], ...], landmarks: np.ndarray, side: str = "both") -> np.ndarray:
    """Apex displacement (H, W, 2) in frame pixels for the given AUs and amplitudes."""
    iod = float(np.linalg.norm(np.subtract(*eye_centres(landmarks))))
    ys, xs = np.mgrid[0:FRAME_SIZE, 0:FRAME_SIZE].astype(np.float32)
    field_ = np.zeros((FRAME_SIZE, FRAME_SIZE, 2), np.float32)
    for au, amplitude in aus:
        if au not in AU_BUMPS:
            raise ConfigError(f"the generator has no motion for {au}; choose from {', '.join(SYNTHETIC_AUS)}")
        for cx, cy, sigma, d, weight in placed_bumps(au, landmarks, side, iod):
            g = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma ** 2))
            field_ += (amplitude * weight * g)[..., None] * d
    return field_


def placed_bumps(au: str, landmarks: np.ndarray, side: str, iod: float):
    """Each bump of an AU placed on a face: (centre x, centre y, sigma, unit direction (2,), weight),
    in the landmarks' coordinates; `side` keeps one side ("left" / "right") or both."""
    for bump in AU_BUMPS[au]:
        sides = [("right", bump.right, 1.0), ("left", bump.left, -1.0)]
        for name, anchors, mirror in sides:
            if side != "both" and name != side:
                continue
            if anchors == bump.right and name == "left" and bump.right == bump.left and side == "both":
                continue  # a centre bump: draw once
            cx, cy = landmarks[list(anchors)].mean(axis=0) + np.array([bump.offset[0] * mirror, bump.offset[1]]) * iod
            d = np.array([bump.direction[0] * mirror, bump.direction[1]], np.float32)
            d /= max(np.linalg.norm(d), 1e-6)
            yield cx, cy, bump.sigma * iod, d, bump.weight


def profile(n_frames: int, onset: int, apex: int, offset: int) -> np.ndarray:
    """Share of apex displacement per frame: 0, raised-cosine rise to 1 at apex, fall to 0 at offset."""
    t = np.arange(n_frames, dtype=np.float64)
    p = np.zeros(n_frames)
    rise = (t >= onset) & (t <= apex)
    p[rise] = 0.5 - 0.5 * np.cos(np.pi * (t[rise] - onset) / max(apex - onset, 1))
    fall = (t > apex) & (t <= offset)
    p[fall] = 0.5 + 0.5 * np.cos(np.pi * (t[fall] - apex) / max(offset - apex, 1))
    return p


def render(spec: SyntheticSpec) -> SyntheticClip:
    """Render the clip a spec describes."""
    if not 0 <= spec.onset < spec.apex <= spec.offset < spec.n_frames:
        raise ConfigError(f"phases must satisfy 0 <= onset < apex <= offset < n_frames, got {spec}")
    photo, to_frame, lm = _base(spec.face)
    rng = np.random.default_rng(spec.seed)
    disp = displacement_field(spec.aus, lm, spec.side)
    weights = profile(spec.n_frames, spec.onset, spec.apex, spec.offset)
    to_source = cv2.invertAffineTransform(to_frame)
    drift_dir = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:FRAME_SIZE, 0:FRAME_SIZE].astype(np.float32)
    centre = np.array([FRAME_SIZE / 2, FRAME_SIZE / 2], np.float32)
    frames = []
    for t in range(spec.n_frames):
        share = t / max(spec.n_frames - 1, 1)
        # head drift: the frame content rotates and translates slightly; invert it for the backward map
        head = cv2.getRotationMatrix2D(tuple(centre), spec.drift_deg * share, 1.0)
        head[:, 2] += spec.drift_px * share * np.array([np.cos(drift_dir), np.sin(drift_dir)])
        inv_head = cv2.invertAffineTransform(head)
        hx = (inv_head[0, 0] * xs + inv_head[0, 1] * ys + inv_head[0, 2]).astype(np.float32)
        hy = (inv_head[1, 0] * xs + inv_head[1, 1] * ys + inv_head[1, 2]).astype(np.float32)
        # expression: content at p moves to p + w*D(p); backward map p ~ q - w*D(q) (D is smooth and small)
        px = hx - weights[t] * cv2.remap(disp[..., 0], hx, hy, cv2.INTER_LINEAR)
        py = hy - weights[t] * cv2.remap(disp[..., 1], hx, hy, cv2.INTER_LINEAR)
        sx = (to_source[0, 0] * px + to_source[0, 1] * py + to_source[0, 2]).astype(np.float32)
        sy = (to_source[1, 0] * px + to_source[1, 1] * py + to_source[1, 2]).astype(np.float32)
        frame = cv2.remap(photo, sx, sy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT).astype(np.float32)
        frame += rng.normal(0.0, spec.noise, frame.shape)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    label = emotion_of(spec)
    return SyntheticClip(np.stack(frames), spec, label, composite_of(label), lm)


def emotion_of(spec: SyntheticSpec) -> str:
    """The label whose prototype the spec's AUs are (unilateral AU12/AU14 reads as contempt)."""
    return prototype_label(tuple(au for au, _ in spec.aus), spec.side != "both")


def random_spec(rng: np.random.Generator, emotion: str, face: str, n_frames: int = 30,
                amplitude: tuple[float, float] = (1.0, 3.0), seed: int = 0) -> SyntheticSpec:
    """A spec drawn from an emotion's recipes: random AU set, amplitudes, phases, drift."""
    if emotion not in RECIPES:
        raise ConfigError(f"unknown emotion {emotion!r}; choose one of {', '.join(RECIPES)}")
    sets = RECIPES[emotion]
    aus = sets[rng.integers(len(sets))]
    onset = int(rng.integers(2, max(3, n_frames // 4)))
    apex = min(onset + int(rng.integers(5, 10)), n_frames - 3)
    offset = min(apex + int(rng.integers(5, 11)), n_frames - 1)
    side = str(rng.choice(["left", "right"])) if emotion in UNILATERAL else "both"
    return SyntheticSpec(
        face=face, aus=tuple((au, round(float(rng.uniform(*amplitude)), 2)) for au in aus), side=side,
        n_frames=n_frames, onset=onset, apex=apex, offset=offset,
        drift_px=round(float(rng.uniform(0.3, 1.5)), 2), drift_deg=round(float(rng.uniform(-0.4, 0.4)), 2), seed=seed,
    )


def synthetic_set(n_clips: int = 45, seed: int = 0, faces: tuple[str, ...] = FACE_NAMES, n_frames: int = 30):
    """Specs for a balanced synthetic set: emotions cycled, faces alternated, everything seeded."""
    rng = np.random.default_rng(seed)
    emotions = list(RECIPES)
    return [
        random_spec(rng, emotions[i % len(emotions)], faces[(i // len(emotions)) % len(faces)], n_frames, seed=seed * 10007 + i)
        for i in range(n_clips)
    ]
