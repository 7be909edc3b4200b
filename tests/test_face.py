import numpy as np
import pytest

from deft.errors import FaceError
from deft.face import LEFT_EYE_AT, RIGHT_EYE_AT, align_face, eye_centres


def test_alignment_puts_eyes_in_place(happy_clip):
    face = align_face(happy_clip.frames)
    left, right = eye_centres(face.landmarks)
    assert np.allclose(left, np.array(LEFT_EYE_AT) * 256, atol=1.0)
    assert np.allclose(right, np.array(RIGHT_EYE_AT) * 256, atol=1.0)
    assert face.iod == pytest.approx(0.3 * 256, abs=1.0)
    assert face.crops.shape == (30, 256, 256, 3) and face.n_faces == 1 and not face.warnings


def test_no_face():
    noise = np.random.default_rng(0).integers(0, 256, (5, 128, 128, 3), dtype=np.uint8)
    with pytest.raises(FaceError, match="noise.mp4: no face found"):
        align_face(noise, source="noise.mp4")


def test_two_similar_faces_are_refused(happy_clip):
    pair = np.concatenate([happy_clip.frames[:3], happy_clip.frames[:3, :, ::-1]], axis=2)
    with pytest.raises(FaceError, match="2 faces of similar size"):
        align_face(pair, source="pair.mp4")


def test_largest_face_is_chosen_and_said(happy_clip):
    import cv2

    small = np.stack([cv2.resize(f, (128, 128)) for f in happy_clip.frames[:3]])
    canvas = np.full((3, 256, 384, 3), 90, np.uint8)
    canvas[:, :, :256] = happy_clip.frames[:3]
    canvas[:, 64:192, 256:] = small
    face = align_face(canvas)
    assert face.n_faces == 2
    assert face.box[2] <= 256  # the big face on the left
    assert "2 faces found; analysed the largest" in face.warnings[0]
