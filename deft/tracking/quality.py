"""How far one clip's tracking can be trusted: a clip-level quality summary and plain warnings."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from deft.face3d import mean_face
from deft.tracking.pose import RIGID_POINTS, HeadPose
from deft.tracking.tracker import Tracked

# A 2D (similarity) alignment cannot undo a turn out of the image plane: turning by θ moves the nose tip
# against the eyes by sin θ times its depth (~0.58 IOD in the mean face), while a micro-expression moves
# its region by about 0.02-0.05 IOD (1-3 px at eyes ~60 px apart). Past the angle where that parallax
# equals the largest micro-expression motion, face motion measured after a 2D alignment is unreliable.
MICRO_MOTION_IOD = 0.05
MAX_OUT_OF_PLANE_DEG = float(np.degrees(np.arcsin(MICRO_MOTION_IOD / mean_face()[30, 2])))  # ~4.9°
# The yaw/pitch range a still head shows from landmark noise alone (benchmarks/bench_pose.py, clean set): a
# measured range warns only past the 2D limit plus this, so a still face is not called turned.
POSE_NOISE_DEG = 3.0
# Motion durations (Ekman; Yan et al. 2013, CASME II): a micro-expression lasts <= 0.5 s, a macro-expression
# 0.5-4 s; longer motion is something else (a held pose, talking, a slow head move).
MICRO_MAX_S = 0.5
MACRO_MAX_S = 4.0
# Landmarks no expression moves much but a turn in depth moves against each other: nose ridge and base, eye
# corners (the face outline is left out: on a turned head dlib follows the silhouette).
STABLE_POINTS = (27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45)


@dataclass
class TrackQuality:
    iod_px: float  # median inter-ocular distance over tracked frames, frame pixels
    pose_range: dict[str, float]  # max - min of yaw, pitch, roll over the clip, degrees
    jitter_iod: float  # median RMS distance of dlib's rigid landmarks from their smoothed track, IOD
    tracked_frames: int
    lost_frames: int
    detections: int  # frames where HOG (re)found the face
    frame_quality: list[float]  # per frame, 0..1 (0 = lost)
    # Filled by clip_quality once the face crops and phases exist:
    sharpness: float = float("nan")  # median variance of the Laplacian over the aligned face (eyes 76.8 px apart)
    motion_s: float = float("nan")  # onset -> offset, seconds
    motion_kind: str = ""  # "micro" (<= MICRO_MAX_S) | "macro" (<= MACRO_MAX_S) | "longer"
    registration_error_iod: float | None = None  # max residual of stable landmarks after registration, when known
    head_residual_iod: float = float("nan")  # stable landmarks, onset -> apex, after the best 2D similarity (RMS)

    def to_dict(self) -> dict:
        return {"iod_px": round(self.iod_px, 2), "pose_range": {k: round(v, 2) for k, v in self.pose_range.items()},
                "landmark_jitter_iod": round(self.jitter_iod, 4), "tracked_frames": self.tracked_frames,
                "lost_frames": self.lost_frames, "detections": self.detections,
                "frame_quality": [round(q, 3) for q in self.frame_quality],
                "sharpness": round(self.sharpness, 1), "motion_s": round(self.motion_s, 3),
                "motion_kind": self.motion_kind, "head_residual_iod": round(self.head_residual_iod, 4),
                "max_registration_error_iod": None if self.registration_error_iod is None
                else round(self.registration_error_iod, 4)}


def track_quality(tracked: Tracked, pose: HeadPose, upscale: float = 1.0) -> TrackQuality:
    """The clip's tracking summary; `upscale` (frame px per source px) makes `iod_px` the source face's."""
    ok = ~tracked.lost
    iod = tracked.iod[ok]
    iod_px = float(np.median(iod)) / upscale if len(iod) else 0.0
    idx = list(RIGID_POINTS)
    if ok.any():
        d = np.linalg.norm(tracked.raw[ok][:, idx] - tracked.landmarks[ok][:, idx], axis=-1)
        jitter = float(np.median(np.sqrt((d ** 2).mean(axis=1)) / np.maximum(iod, 1e-6)))
    else:
        jitter = 0.0
    return TrackQuality(iod_px, pose.range(), jitter, int(ok.sum()), int((~ok).sum()), int(tracked.detected.sum()),
                        [float(q) for q in tracked.quality])


def face_sharpness(gray: np.ndarray, landmarks: np.ndarray, frames: list[int]) -> float:
    """Median over `frames` of the variance of the Laplacian inside the landmarks' hull of aligned grey crops.

    The crops put every face at the same scale, so a small face (upsampled) and a blurred or heavily
    compressed one both read low: detail the motion measurement cannot see.
    """
    mask = np.zeros(gray.shape[1:], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(landmarks.astype(np.int32)), 1)
    inside = mask.astype(bool)
    return float(np.median([cv2.Laplacian(gray[t], cv2.CV_32F)[inside].var() for t in frames]))


def motion_kind(seconds: float) -> str:
    return "micro" if seconds <= MICRO_MAX_S else "macro" if seconds <= MACRO_MAX_S else "longer"


def head_residual(onset_lm: np.ndarray, apex_lm: np.ndarray) -> float:
    """RMS distance (IOD) of the stable landmarks of apex from onset's after the best similarity: the head
    motion a 2D alignment leaves (a turn in depth); NaN where the face was lost on either frame."""
    a, b = onset_lm[list(STABLE_POINTS)].astype(np.float64), apex_lm[list(STABLE_POINTS)].astype(np.float64)
    if np.isnan(a).any() or np.isnan(b).any():
        return float("nan")
    n = len(a)
    design = np.zeros((2 * n, 4))
    design[0::2] = np.stack([a[:, 0], -a[:, 1], np.ones(n), np.zeros(n)], 1)
    design[1::2] = np.stack([a[:, 1], a[:, 0], np.zeros(n), np.ones(n)], 1)
    params, *_ = np.linalg.lstsq(design, b.reshape(-1), rcond=None)
    residual = (design @ params - b.reshape(-1)).reshape(n, 2)
    iod = float(np.linalg.norm(onset_lm[36:42].mean(axis=0) - onset_lm[42:48].mean(axis=0)))
    return float(np.sqrt((residual ** 2).sum(axis=1).mean()) / max(iod, 1e-6))


def clip_quality(quality: TrackQuality, gray: np.ndarray, landmarks: np.ndarray, tracked: Tracked,
                 phases: tuple[int, int, int], fps: float, registration_error_iod: float | None = None) -> TrackQuality:
    """The tracking quality plus what the crops, landmarks and phases tell: sharpness, head motion left by a
    2D alignment, motion duration, registration error."""
    onset, apex, offset = phases
    seconds = (offset - onset) / fps
    return replace(quality, sharpness=face_sharpness(gray, landmarks, sorted({onset, apex})), motion_s=seconds,
                   motion_kind=motion_kind(seconds), registration_error_iod=registration_error_iod,
                   head_residual_iod=head_residual(tracked.landmarks[onset], tracked.landmarks[apex]))


def track_warnings(quality: TrackQuality, tracked: Tracked) -> list[str]:
    """Plain warnings: frames where the face was lost, a head turn a 2D alignment cannot undo."""
    out = []
    if quality.lost_frames:
        first = int(np.flatnonzero(tracked.lost)[0])
        out.append(f"face lost on {quality.lost_frames} of {len(tracked.lost)} frames (first: frame {first}); "
                   "no landmarks or pose there")
    limit = MAX_OUT_OF_PLANE_DEG + POSE_NOISE_DEG
    turned = {k: v for k, v in quality.pose_range.items() if k in ("yaw", "pitch") and v > limit}
    if turned:
        what = ", ".join(f"{k} {v:.0f}°" for k, v in turned.items())
        out.append(f"head turned out of the image plane during the clip ({what}; a 2D alignment is trusted up to "
                   f"~{MAX_OUT_OF_PLANE_DEG:.0f}°, warned past {limit:.0f}° with pose noise): face motion measured "
                   "here may be head motion")
    return out
