import cv2
import numpy as np
import pytest

from deft.errors import ConfigError
from deft.motion.flow import compute_flow, optical_strain, remove_head_motion, to_gray


def _shift(img, dx, dy, angle=0.0):
    m = cv2.getRotationMatrix2D((128, 128), angle, 1.0)
    m[:, 2] += (dx, dy)
    return cv2.warpAffine(img, m, (256, 256), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("method", ["dis", "tvl1"])
def test_flow_recovers_a_known_shift(happy_clip, method):
    a = to_gray(happy_clip.frames[0])
    b = _shift(a, 1.5, -1.0)
    flow = compute_flow(a, b, method)
    centre = flow[64:192, 64:192].reshape(-1, 2)
    assert np.median(centre, axis=0) == pytest.approx([1.5, -1.0], abs=0.15)


def test_unknown_method():
    with pytest.raises(ConfigError, match="unknown flow method 'farneback'"):
        compute_flow(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), "farneback")


def test_head_motion_is_removed_but_local_motion_kept(happy_clip):
    from deft.face import align_face

    face = align_face(happy_clip.frames[:1])
    a = to_gray(face.crops[0])
    b = _shift(a, 1.2, 0.8, angle=0.5)  # rigid head motion only
    residual = remove_head_motion(compute_flow(a, b), face.landmarks, face.iod)
    face_box = residual[60:220, 50:206]
    assert np.median(np.linalg.norm(face_box, axis=-1)) < 0.15
    flow = compute_flow(a, b)
    assert np.median(np.linalg.norm(flow[60:220, 50:206], axis=-1)) > 1.0


def test_strain_is_zero_for_translation_and_positive_for_stretch():
    ys, xs = np.mgrid[0:32, 0:32].astype(np.float32)
    shift = np.stack([np.full_like(xs, 2.0), np.full_like(ys, -1.0)], axis=-1)
    assert np.abs(optical_strain(shift)).max() < 1e-6
    stretch = np.stack([0.05 * xs, np.zeros_like(ys)], axis=-1)
    assert optical_strain(stretch)[5:-5, 5:-5] == pytest.approx(0.05, abs=1e-4)


def test_full_resolution_flow_keeps_a_small_local_motion():
    """A 1 px bump 6 px wide (a micro-expression's size in a 256 crop): the preset's half-resolution flow reads
    about half of it, the full-resolution one (the AU flow's) nearly all."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur((rng.random((256, 256)) * 255).astype(np.float32), (0, 0), 1.5)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX)
    yy, xx = np.mgrid[:256, :256].astype(np.float32)
    bump = np.exp(-((xx - 128) ** 2 + (yy - 100) ** 2) / (2 * 6.0**2))
    moved = cv2.remap(texture, xx, yy - bump, cv2.INTER_CUBIC)
    inside = bump > 0.5
    read = {full: compute_flow(texture.astype(np.uint8), moved.astype(np.uint8), "dis", full)[..., 1][inside].mean()
            for full in (False, True)}
    assert read[True] > 0.8 * bump[inside].mean() > 1.5 * read[False]


def test_presmooth_blurs_by_a_share_of_a_source_pixel():
    """A small face upsampled 3.5x into the crop is blurred by 0.5 source px (1.75 crop px); a face the crop
    shrinks is left as it is."""
    from deft.motion.flow import PRESMOOTH_SOURCE_PX, presmooth

    rng = np.random.default_rng(0)
    image = (rng.random((64, 64)) * 255).astype(np.uint8)
    assert presmooth(image, 0.4) is image
    blurred = presmooth(image, 3.5)
    assert blurred.dtype == np.uint8
    expected = cv2.GaussianBlur(image, (0, 0), PRESMOOTH_SOURCE_PX * 3.5)
    assert np.array_equal(blurred, expected)
    assert blurred.std() < 0.5 * image.std()
