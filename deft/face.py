"""Find the face (dlib HOG), its 68 landmarks, and align every frame to one square crop."""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from deft.errors import FaceError

# Canonical crop: eye centres land here (fractions of the crop side), so the inter-ocular
# distance (IOD) is 0.30 * side: 76.8 px at 256.
LEFT_EYE_AT = (0.35, 0.40)  # image-left eye (the subject's right)
RIGHT_EYE_AT = (0.65, 0.40)
# A second face at least this share of the largest face's area makes the choice ambiguous.
AMBIGUOUS_FACE_AREA = 0.6


@dataclass(frozen=True)
class FaceConfig:
    """How faces are found and cropped."""

    crop_size: int = 256
    upsample: int = 1  # HOG upsampling tried when no face is found at native size
    search_frames: int = 3  # frames tried (first, middle, last) before giving up


@dataclass
class AlignedFace:
    """Every frame warped by the same similarity transform onto a square, eye-aligned crop."""

    crops: np.ndarray  # (T, S, S, 3) uint8 RGB
    landmarks: np.ndarray  # (68, 2) float32, reference frame, crop coordinates
    iod: float  # inter-ocular distance in crop pixels: the unit of every threshold
    box: tuple[int, int, int, int]  # (left, top, right, bottom) in the source frame
    reference_frame: int
    transform: np.ndarray  # (2, 3) source -> crop
    n_faces: int
    warnings: list[str] = field(default_factory=list)


def model_path(name: str) -> str:
    """Path of a .dat file from face-recognition-models (its __init__ needs pkg_resources: don't import it)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise FaceError("the package face-recognition-models is missing; pip install face-recognition-models")
    path = os.path.join(os.path.dirname(spec.origin), "models", name)
    if not os.path.exists(path):
        raise FaceError(f"{path}: model file missing from face-recognition-models; reinstall it")
    return path


@lru_cache(maxsize=1)
def hog_detector():
    import dlib

    return dlib.get_frontal_face_detector()


@lru_cache(maxsize=1)
def _predictor():
    import dlib

    return dlib.shape_predictor(model_path("shape_predictor_68_face_landmarks.dat"))


# dlib's detectors and networks keep scratch state: one instance must not run in two threads at once
# (a served API analyses clips in parallel threads; unguarded, dlib corrupts the heap). Calls are a
# few ms, so holding this lock costs little parallelism.
DLIB_LOCK = threading.RLock()


def load_models() -> None:
    """Load the detector and the landmark model now (a worker's start-up) rather than on first use."""
    hog_detector()
    _predictor()


def hog_faces(gray: np.ndarray, upsample: int = 1) -> tuple[list[tuple[int, int, int, int]], list[float]]:
    """HOG face boxes (left, top, right, bottom) and dlib's detection scores on a grey image, in dlib's
    order; the image is upsampled only when none is found at its own size."""
    with DLIB_LOCK:
        rects, scores, _ = hog_detector().run(gray, 0, 0.0)
        if len(rects) == 0 and upsample > 0:
            rects, scores, _ = hog_detector().run(gray, upsample, 0.0)
    return [(r.left(), r.top(), r.right(), r.bottom()) for r in rects], list(scores)


def detect_faces(rgb: np.ndarray, upsample: int = 1) -> list[tuple[int, int, int, int]]:
    """Face boxes (left, top, right, bottom), largest first; upsamples only when none is found."""
    boxes, _ = hog_faces(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), upsample)
    return sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)


def landmarks68(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The 68 iBUG landmarks (x, y) of the face in `box` of an RGB or grey image."""
    import dlib

    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    with DLIB_LOCK:
        shape = _predictor()(gray, dlib.rectangle(*box))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def eye_centres(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the image-left (36-41) and image-right (42-47) eyes."""
    return lm[36:42].mean(axis=0), lm[42:48].mean(axis=0)


def eye_alignment(lm: np.ndarray, size: int) -> np.ndarray:
    """Similarity transform (2, 3) taking the eye centres to their canonical places in a size x size crop."""
    src_l, src_r = eye_centres(lm)
    dst_l = np.array(LEFT_EYE_AT, np.float64) * size
    dst_r = np.array(RIGHT_EYE_AT, np.float64) * size
    src_v, dst_v = src_r - src_l, dst_r - dst_l
    scale = np.linalg.norm(dst_v) / max(np.linalg.norm(src_v), 1e-6)
    angle = np.arctan2(dst_v[1], dst_v[0]) - np.arctan2(src_v[1], src_v[0])
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    shift = dst_l - rot @ src_l
    return np.hstack([rot, shift[:, None]]).astype(np.float64)


def choose_face(boxes: list[tuple[int, int, int, int]], source: str) -> tuple[tuple[int, int, int, int], list[str]]:
    if len(boxes) == 1:
        return boxes[0], []
    area = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
    if area[1] >= AMBIGUOUS_FACE_AREA * area[0]:
        raise FaceError(
            f"{source}: {len(boxes)} faces of similar size; deft analyses one face: crop the clip to it"
        )
    return boxes[0], [f"{len(boxes)} faces found; analysed the largest ({area[0]} px² vs {area[1]} px²)"]


def align_face(frames: np.ndarray, config: FaceConfig = FaceConfig(), source: str = "clip", warp: bool = True
               ) -> AlignedFace:
    """Detect the face on a reference frame and warp all frames onto the same eye-aligned crop (`warp=False`:
    find the face only; `crops` is then empty, for a caller that registers frames itself).

    One transform for the whole clip keeps head motion as motion (removed later by stabilisation)
    instead of replacing it with landmark jitter.
    """
    t = frames.shape[0]
    candidates = list(dict.fromkeys([0, t // 2, t - 1][: max(1, config.search_frames)]))
    for ref in candidates:
        boxes = detect_faces(frames[ref], config.upsample)
        if boxes:
            break
    else:
        raise FaceError(f"{source}: no face found (tried frames {', '.join(map(str, candidates))})")
    box, warnings = choose_face(boxes, source)
    lm = landmarks68(frames[ref], box)
    matrix = eye_alignment(lm, config.crop_size)
    size = (config.crop_size, config.crop_size)
    crops = np.stack(
        [cv2.warpAffine(f, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) for f in frames]
    ) if warp else np.zeros((0, *size, 3), np.uint8)
    lm_crop = (lm @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)
    left, right = eye_centres(lm_crop)
    if ref != 0:
        warnings.append(f"no face on frame 0; aligned on frame {ref}")
    return AlignedFace(crops, lm_crop, float(np.linalg.norm(right - left)), box, ref, matrix, len(boxes), warnings)


@lru_cache(maxsize=1)
def _descriptor_model():
    import dlib

    return dlib.face_recognition_model_v1(model_path("dlib_face_recognition_resnet_model_v1.dat"))


# dlib's ResNet descriptor: two photos of one person are usually closer than this (dlib docs: 0.6).
SAME_PERSON_DISTANCE = 0.6


def face_descriptor(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The 128-d dlib ResNet identity descriptor of the face in `box`."""
    import dlib

    with DLIB_LOCK:
        shape = _predictor()(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), dlib.rectangle(*box))
        return np.asarray(_descriptor_model().compute_face_descriptor(np.ascontiguousarray(rgb), shape), np.float32)
