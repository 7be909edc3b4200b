"""Per-frame eyelid and mouth measures from 68 landmarks, in the face's own axes and IOD units."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deft.face import eye_centres

# dlib 68-point indices. The subject's right eye is the image-left one (36-41); left/right below are the subject's.
UPPER_LID = {"right": (37, 38), "left": (43, 44)}
LOWER_LID = {"right": (41, 40), "left": (47, 46)}  # below the upper-lid points, pairwise
EYE_CORNERS = {"right": (36, 39), "left": (42, 45)}  # image-left corner first
INNER_LIPS = (62, 66)  # centre of the upper and lower inner lip edges
OUTER_LIPS = (51, 57)
NOSE_BASE, CHIN = 33, 8


@dataclass
class FaceMeasures:
    """(T,) vertical distances along each frame's own face axis, in IOD (NaN where the face was lost).

    They are divided by the frame's eye-line-to-nose-base height, not its IOD: turning the head (yaw)
    shortens the IOD but not vertical distances, and nodding (pitch) shortens them all alike. The clip's
    median height/IOD ratio turns that back into IOD.
    """

    eye_open: dict[str, np.ndarray]  # "right" | "left" -> upper-to-lower lid gap
    mouth_open: np.ndarray  # inner lip gap plus outer lip height: how far the lips are apart
    lip_gap: np.ndarray  # inner lip gap alone: the cavity between the lips
    jaw: np.ndarray  # nose base to chin
    iod_px: float  # median inter-ocular distance, frame pixels


def _down_axis(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 2) unit vector pointing down the face (perpendicular to the eye line) and (T,) IOD in pixels."""
    right, left = eye_centres(np.moveaxis(lm, 0, 1))
    across = left - right
    iod = np.linalg.norm(across, axis=-1)
    across = across / iod[:, None]
    return np.stack([-across[:, 1], across[:, 0]], axis=1), iod


def face_measures(landmarks: np.ndarray) -> FaceMeasures:
    """Lid gaps, lip gap and jaw length of (T, 68, 2) landmarks; in-plane roll and scale divided out."""
    down, iod = _down_axis(landmarks)
    eye_line = landmarks[:, [c for pair in EYE_CORNERS.values() for c in pair]].mean(axis=1)  # corners stay put in a blink
    height = np.einsum("td,td->t", landmarks[:, NOSE_BASE] - eye_line, down)
    ok = np.isfinite(height) & (height > 0)
    unit = height / float(np.median(height[ok] / iod[ok])) if ok.any() else iod

    def gap(top: int, bottom: int) -> np.ndarray:
        return np.einsum("td,td->t", landmarks[:, bottom] - landmarks[:, top], down) / unit

    eye_open = {s: np.mean([gap(u, b) for u, b in zip(UPPER_LID[s], LOWER_LID[s])], axis=0) for s in UPPER_LID}
    lips = gap(*INNER_LIPS)
    return FaceMeasures(eye_open, lips + gap(*OUTER_LIPS), lips, gap(NOSE_BASE, CHIN), float(np.median(iod[ok])) if ok.any() else float("nan"))


def fill_lost(series: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN frames (edges held); all zeros when nothing was measured."""
    ok = np.isfinite(series)
    if not ok.any():
        return np.zeros_like(series)
    t = np.arange(len(series))
    return np.interp(t, t[ok], series[ok])
