"""Per-frame face tracking: dlib's 68 landmarks on every frame, HOG detection only where needed.

A frame's landmarks are fitted in the box the previous frame's landmarks give (~2 ms): HOG's last box moved
with the fitted eyes and sized for their IOD (slowly, with `steady_box`: see BOX_IOD). The fit is kept
when the face still looks like the last HOG-verified face (normalised cross-correlation of a small
eye-aligned patch) and did not jump; otherwise, and every `verify_every` frames, HOG looks for the face
near where it was (a small crop: a few ms). Where HOG finds no face there (it misses faces turned past
~30° and small ones) the fit is kept only if the face still looks the same; else the frame is lost (never
extrapolated) and the next frame searches the whole frame (~200 ms at 640 px).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deft.face import eye_alignment, eye_centres, hog_faces, landmarks68
from deft.tracking.smooth import SmoothConfig, smooth_track

Box = tuple[int, int, int, int]  # (left, top, right, bottom), frame pixels
PATCH = 32  # side of the eye-aligned appearance patch (px): eyes ~10 px apart, enough to tell a face
# Box width per inter-ocular distance kept between these. HOG's boxes are 1.9-2.6 IOD wide on the world's faces
# (a turn narrows the eyes; small faces up to 3). In a box wider than ~2.6 true IODs dlib's fit can settle on a
# second, wrong shape (on a face with glasses the eye corners go to the frames: IOD read 20-45 % wide), and a box
# sized from each frame's fit keeps it there: the runaway of benchmarks/README.md, "Long videos".
BOX_IOD = (1.9, 2.3)  # the short-clip follower, as the AU calibration was fitted on
# `steady_box` (long videos): a tighter bound, and the box's scale follows the fitted IOD by at most SCALE_STEP a
# frame (a real face's IOD changes < 2 % a frame at 30 fps in the world's long videos): a passing wrong fit is
# not adopted.
STEADY_BOX_IOD, SCALE_STEP = (1.9, 2.1), 0.02
# steady_box: a well-fitted face's HOG box is never this few fitted IODs wide; narrower, the fit is too big.
HOG_IOD_MIN = 1.7
# steady_box: a fresh fit in a HOG box wider than LOOSE_IOD of its IODs is checked by a second fit in a box
# NARROWER times as wide; where the IOD shrinks by more than GREW, the first fit had grown with the box (in the
# 1.9-2.5 IOD boxes where dlib fits well, the IOD barely depends on the box).
LOOSE_IOD, NARROWER, GREW = 2.1, 0.8, 0.08


@dataclass(frozen=True)
class TrackConfig:
    """How faces are followed from frame to frame."""

    verify_every: int = 10  # frames between HOG checks even when the appearance holds
    min_appearance: float = 0.6  # NCC to the last verified patch below which HOG re-checks the face
    keep_appearance: float = 0.5  # where HOG cannot confirm, landmarks are kept above this NCC, else lost
    max_jump_iod: float = 0.5  # eye-midpoint move between frames (IOD) beyond which HOG re-checks
    search_margin: float = 0.5  # the local HOG search region reaches this share of the box beyond it
    refit_iou: float = 0.6  # a HOG box overlapping the tracked box less than this restarts the landmarks
    steady_box: bool = False  # the box's scale follows the fitted IOD slowly and loose HOG boxes are checked
    search_face_px: int = 90  # the local crop is scaled so the face box is about this wide (HOG sees 80 px)
    smooth: SmoothConfig = SmoothConfig()


@dataclass
class Tracked:
    """Landmarks of one face on every frame; NaN where it was lost."""

    landmarks: np.ndarray  # (T, 68, 2) smoothed, frame pixels
    raw: np.ndarray  # (T, 68, 2) as dlib fitted them
    quality: np.ndarray  # (T,) 0..1: appearance agreement with the last HOG-verified face; 0 where lost
    detected: np.ndarray  # (T,) bool: HOG (re)found the face on this frame
    lost: np.ndarray  # (T,) bool

    @property
    def iod(self) -> np.ndarray:
        """(T,) inter-ocular distance in frame pixels (smoothed landmarks; NaN where lost)."""
        left, right = eye_centres(np.moveaxis(self.landmarks, 0, 1))
        return np.linalg.norm(right - left, axis=-1)


def _patch(gray: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """The eye-aligned PATCH x PATCH grey patch, zero mean and unit norm (all zeros if flat)."""
    p = cv2.warpAffine(gray, eye_alignment(lm, PATCH), (PATCH, PATCH), flags=cv2.INTER_AREA).astype(np.float32)
    p -= p.mean()
    n = float(np.linalg.norm(p))
    return p / n if n > 1e-3 else np.zeros_like(p)


def _eyes(lm: np.ndarray) -> tuple[np.ndarray, float]:
    """Eye midpoint and inter-ocular distance of 68 landmarks."""
    left, right = eye_centres(lm)
    return (left + right) / 2, max(float(np.linalg.norm(right - left)), 1e-6)


def _moved_box(box: Box, anchor: tuple[np.ndarray, float], mid: np.ndarray, iod: float) -> Box:
    """`box` (placed when the eyes were at `anchor`) moved to eye midpoint `mid` and scaled to `iod`. The eyes
    are the most stable landmarks; a box derived from all the landmarks' extent drifts as the jaw outline slides."""
    mid0, iod0 = anchor
    s = iod / iod0
    centre = mid + s * (np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]) - mid0)
    half = s * np.array([box[2] - box[0], box[3] - box[1]]) / 2
    return (int(round(centre[0] - half[0])), int(round(centre[1] - half[1])),
            int(round(centre[0] + half[0])), int(round(centre[1] + half[1])))


def _sized_box(box: Box, iod: float, bounds: tuple[float, float] = BOX_IOD) -> Box:
    """`box` resized about its centre to a width (and height, in proportion) within `bounds` x `iod`."""
    w = box[2] - box[0]
    s = float(np.clip(w / max(iod, 1e-6), *bounds)) * iod / max(w, 1)
    return box if abs(s - 1.0) < 1e-3 else _scaled_box(box, s)


def _scaled_box(box: Box, s: float) -> Box:
    """`box` scaled by `s` about its centre."""
    cx, cy, hw, hh = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, s * (box[2] - box[0]) / 2, s * (box[3] - box[1]) / 2
    return int(round(cx - hw)), int(round(cy - hh)), int(round(cx + hw)), int(round(cy + hh))


def _iou(a: Box, b: Box) -> float:
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def _nearest(boxes: list[Box], near: np.ndarray | None) -> Box | None:
    """The box whose centre is nearest `near` (the largest when there is no previous place)."""
    if not boxes:
        return None
    if near is None:
        return max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    return min(boxes, key=lambda b: np.hypot((b[0] + b[2]) / 2 - near[0], (b[1] + b[3]) / 2 - near[1]))


def _local_search(gray: np.ndarray, box: Box, config: TrackConfig) -> Box | None:
    """HOG on a crop around `box`, scaled so the face is ~search_face_px wide; the found box in frame px."""
    h, w = gray.shape
    bw, bh = box[2] - box[0], box[3] - box[1]
    m = config.search_margin
    x0, y0 = max(int(box[0] - m * bw), 0), max(int(box[1] - m * bh), 0)
    x1, y1 = min(int(box[2] + m * bw), w), min(int(box[3] + m * bh), h)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    scale = config.search_face_px / max(bw, 1)
    crop = cv2.resize(gray[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1
                      else cv2.INTER_LINEAR)
    boxes, _ = hog_faces(crop, upsample=0)
    found = [(int(b[0] / scale + x0), int(b[1] / scale + y0), int(b[2] / scale + x0), int(b[3] / scale + y0))
             for b in boxes]
    return _nearest(found, np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]))


class _Follower:
    """State of one pass over frames: last landmarks, the last verified patch, the box geometry."""

    def __init__(self, config: TrackConfig, upsample: int):
        self.config, self.upsample = config, upsample
        self.lm: np.ndarray | None = None
        self.last_centre: np.ndarray | None = None
        self.reference: np.ndarray | None = None
        self.box: Box | None = None  # the last HOG box and the eyes when it was placed
        self.anchor: tuple[np.ndarray, float] | None = None
        self.scale = 1.0  # the IOD the box is sized for: the last fitted IOD (steady_box: followed slowly)
        self.bounds = STEADY_BOX_IOD if config.steady_box else BOX_IOD
        self.since_verified = 0

    def current_box(self) -> Box | None:
        """The face box at the last landmarks (HOG's last box moved with the eyes, sized for the followed IOD);
        None if lost."""
        return None if self.lm is None else _moved_box(self.box, self.anchor, _eyes(self.lm)[0], self.scale)

    def _accept(self, gray: np.ndarray, box: Box, scale: float | None = None) -> tuple[np.ndarray, float, bool]:
        """Fit in HOG's `box`. While the face is followed (`scale`: its IOD now) the box is first sized for that
        IOD: a loose HOG box could start the wrong fit, whose own IOD would then size the box."""
        if scale is not None:
            box = _sized_box(box, scale, self.bounds)
        lm = landmarks68(gray, box)
        mid, iod = _eyes(lm)
        if self.config.steady_box and scale is None and box[2] - box[0] > LOOSE_IOD * iod:
            narrow = _scaled_box(box, NARROWER)
            lm2 = landmarks68(gray, narrow)
            if _eyes(lm2)[1] < (1 - GREW) * iod:
                box, lm = narrow, lm2
                mid, iod = _eyes(lm)
        self.scale = iod if scale is None else scale
        self.anchor = (mid, self.scale)
        self.box = _sized_box(box, self.scale, self.bounds)
        self.reference = _patch(gray, lm)
        self.since_verified = 0
        self._keep(lm)
        return lm, 1.0, True

    def _keep(self, lm: np.ndarray) -> None:
        iod = _eyes(lm)[1]
        self.scale = float(np.clip(iod, self.scale * (1 - SCALE_STEP), self.scale * (1 + SCALE_STEP))
                           ) if self.config.steady_box else iod
        self.lm, self.last_centre = lm, lm.mean(axis=0)

    def step(self, image: np.ndarray, seed: Box | None = None) -> tuple[np.ndarray | None, float, bool]:
        """Landmarks of this frame (RGB or grey; None: lost), its quality, whether HOG verified it."""
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if seed is not None:
            return self._accept(gray, seed)
        if self.lm is None:  # nothing to follow: search the whole frame
            boxes, _ = hog_faces(gray, self.upsample)
            box = _nearest(boxes, self.last_centre)
            return (None, 0.0, False) if box is None else self._accept(gray, box)
        box = self.current_box()
        lm = landmarks68(gray, box)
        quality = float(np.clip((_patch(gray, lm) * self.reference).sum(), 0.0, 1.0))
        (mid0, iod0), (mid, _) = _eyes(self.lm), _eyes(lm)
        jump = float(np.linalg.norm(mid - mid0)) / iod0
        self.since_verified += 1
        c = self.config
        if quality >= c.min_appearance and jump <= c.max_jump_iod and self.since_verified < c.verify_every:
            self._keep(lm)
            return lm, quality, False
        found = _local_search(gray, box, c)
        if found is None:
            if quality >= c.keep_appearance:  # HOG misses turned or small faces; the face still looks the same
                self._keep(lm)
                return lm, quality, False
            self.lm = None
            return None, 0.0, False
        if c.steady_box and found[2] - found[0] < HOG_IOD_MIN * self.scale:  # the fit is too big for the face
            return self._accept(gray, found)  # HOG sees: start again from HOG's box alone
        if c.steady_box:  # HOG frames a face up to 3 IODs wide: whether it is elsewhere is judged at our size
            found = _sized_box(found, self.scale, self.bounds)
        if _iou(found, box) < c.refit_iou:  # the face is elsewhere: fit again from HOG's box
            return self._accept(gray, found, self.scale if c.steady_box else None)
        # HOG confirms the face where the landmarks are: keep them (refitting from HOG's slightly different
        # box would make the landmarks, and the pose, jump on every check)
        self.reference, self.since_verified = _patch(gray, lm), 0
        self._keep(lm)
        return lm, quality, True


def track_face(frames: np.ndarray, fps: float, seed: tuple[int, Box] | None = None, upsample: int = 1,
               config: TrackConfig = TrackConfig()) -> Tracked:
    """Follow one face over (T, H, W, 3) RGB frames. `seed` = (frame, box) of a face already detected
    (e.g. by deft.face.align_face) saves a full-frame detection; tracking runs from that frame forwards,
    then from it backwards."""
    n = len(frames)
    raw = np.full((n, 68, 2), np.nan)
    quality = np.zeros(n)
    detected = np.zeros(n, bool)
    start, box = seed if seed is not None else (0, None)
    follower = _Follower(config, upsample)
    first = None
    for order in (range(start, n), range(start - 1, -1, -1)):
        if first is not None:  # the backward pass starts from the start frame's verified state
            follower = first
        for t in order:
            lm, q, verified = follower.step(frames[t], box if t == start else None)
            if t == start:
                first = _copy(follower)
            if lm is not None:
                raw[t], quality[t], detected[t] = lm, q, verified
    lost = np.isnan(raw).any(axis=(1, 2))
    tracked = ~lost
    if tracked.any():
        left, right = eye_centres(np.moveaxis(raw[tracked], 0, 1))
        iod = float(np.median(np.linalg.norm(right - left, axis=-1)))
    else:
        iod = 1.0
    smooth = smooth_track(raw, fps, iod, config.smooth)
    return Tracked(smooth.astype(np.float32), raw.astype(np.float32), quality, detected, lost)


def _copy(follower: _Follower) -> _Follower:
    other = _Follower(follower.config, follower.upsample)
    other.__dict__.update(follower.__dict__)
    return other


Follower = _Follower  # one face followed frame by frame, for callers that stream frames (deft.long)
