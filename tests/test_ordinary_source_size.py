"""Ordinary motion of an upscaled face (a long video's small-face interval) is read at the video's own size."""

import cv2
import numpy as np

from deft.face import eye_centres
from deft.face3d import mean_face
from deft.ordinary import at_source_size, detect_ordinary
from deft.ordinary.mouth import MouthConfig

FPS, IOD, SCALE = 30.0, 20.0, 3.0  # a 20 px face, upscaled 3x as deft.long.intervals does for HOG


def _talking(opening_iod: float) -> tuple[np.ndarray, np.ndarray]:
    """(frames, landmarks) of a 20 px face whose mouth opens `opening_iod` at 4 Hz for 2 s, on a plain frame."""
    face = mean_face()[:, :2]
    face = face / np.linalg.norm(np.subtract(*eye_centres(face))) * IOD + 32.0
    t = np.arange(60) / FPS
    landmarks = np.repeat(face[None], len(t), axis=0)
    opening = opening_iod * IOD * 0.5 * (1 - np.cos(2 * np.pi * 4.0 * t))
    landmarks[:, 56:59, 1] += opening[:, None]  # lower outer lip
    landmarks[:, 5:12, 1] += opening[:, None] / 2  # the jaw follows
    frames = np.full((len(t), 96, 64, 3), 128, np.uint8)
    return frames, landmarks


def _mouth(ordinary) -> list[str]:
    return [e.kind for e in ordinary.events if e.kind in ("speech", "jaw")]


def test_lip_motion_under_the_pixel_floor_of_a_small_face_is_not_speech_when_upscaled():
    """0.05 IOD at 20 px is 1 px: under MouthConfig.syllable_px, so a short clip of this face finds no speech;
    upscaled 3x it is 3 px and, read on the upscaled frames, it was speech."""
    assert 0.05 * IOD < MouthConfig().syllable_px < 0.05 * IOD * SCALE
    frames, landmarks = _talking(0.05)
    up = np.stack([cv2.resize(f, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC) for f in frames])
    up_landmarks = (landmarks + 0.5) * SCALE - 0.5
    short = detect_ordinary(frames, landmarks, FPS)
    upscaled = detect_ordinary(*at_source_size(up, up_landmarks, SCALE, frames), FPS)
    assert _mouth(short) == _mouth(upscaled) == []
    assert _mouth(detect_ordinary(up, up_landmarks, FPS)) == ["speech"]  # read at 60 px
    big = _talking(0.1)  # 2 px at 20 px: speech at either size
    assert _mouth(detect_ordinary(*big, FPS)) == ["speech"]
    assert _mouth(detect_ordinary(*at_source_size(
        np.stack([cv2.resize(f, None, fx=SCALE, fy=SCALE) for f in big[0]]), (big[1] + 0.5) * SCALE - 0.5, SCALE,
        big[0]), FPS)) == ["speech"]


def test_frames_not_upscaled_are_read_as_they_are():
    frames, landmarks = _talking(0.05)
    same = at_source_size(frames, landmarks, 1.0, None)
    assert same[0] is frames and same[1] is landmarks
    back = at_source_size(frames, (landmarks + 0.5) * SCALE - 0.5, SCALE, frames)[1]
    assert np.allclose(back, landmarks)
