import cv2
import numpy as np

from deft.analyze import SMALL_FACE_PX, AnalyzeConfig, analyze_frames
from deft.data.synthetic import SyntheticSpec, render
from deft.motion.average import apex_frames, mean_image, reference_frames
from deft.motion.flow import compute_flow
from tests.conftest import as_video


def _texture(seed: int = 0, size: int = 128) -> np.ndarray:
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur((rng.random((size, size)) * 255).astype(np.float32), (0, 0), 2.0)
    return cv2.normalize(texture, None, 40, 215, cv2.NORM_MINMAX)


def _noisy(image: np.ndarray, rng: np.random.Generator, k: int, sigma: float) -> np.ndarray:
    """k frames of the same image, each with its own sensor noise, uint8."""
    return np.clip(np.rint(image + rng.normal(0, sigma, (k, *image.shape))), 0, 255).astype(np.uint8)


def test_averaged_frames_give_a_truer_flow_than_single_noisy_frames():
    """A 1 px bump (a micro-expression) under sensor noise of sigma 4: flow between the means of 3 frames on
    each side errs less, in the bump and around it, than flow between single frames."""
    texture = _texture()
    yy, xx = np.mgrid[:128, :128].astype(np.float32)
    bump = np.exp(-((xx - 64) ** 2 + (yy - 64) ** 2) / (2 * 8.0**2))
    moved = cv2.remap(texture, xx, yy - bump, cv2.INTER_CUBIC)
    truth = np.stack([np.zeros_like(bump), bump], axis=-1)
    single, averaged = [], []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        before, after = _noisy(texture, rng, 3, 4.0), _noisy(moved, rng, 3, 4.0)
        for errs, (a, b) in ((single, (before[0], after[0])), (averaged, (mean_image(before), mean_image(after)))):
            flow = compute_flow(a, b, "dis", full_resolution=True)
            errs.append(np.linalg.norm(flow - truth, axis=-1)[16:-16, 16:-16].mean())
    assert np.mean(averaged) < 0.8 * np.mean(single)


def test_mean_image_rounds_and_keeps_uint8():
    frames = np.array([[[10, 200]], [[11, 201]]], np.uint8)
    out = mean_image(frames)
    assert out.dtype == np.uint8 and out.tolist() == [[10, 200]]  # 10.5 and 200.5 round to even


def test_reference_frames_stay_still_and_on_the_side_away_from_the_apex():
    curve = np.array([0.0, 0.0, 0.004, 0.0, 0.0, 0.0, 0.002, 0.006, 0.010, 0.006, 0.0])
    # before the onset (5): stops at the frame that moved (2)
    assert reference_frames(curve, 5, 8, fps=30.0) == [5, 4, 3]
    assert reference_frames(curve, 5, 8, fps=60.0) == [5, 4, 3]
    # a reference after the expression looks forward; the frame rate bounds the span (0.1 s)
    assert reference_frames(np.r_[curve, 0, 0, 0, 0], 10, 8, fps=30.0) == [10, 11, 12]
    assert reference_frames(curve, 5, 8, fps=10.0) == [5]
    # mouth and lids must match the reference's too
    assert reference_frames(curve, 5, 8, fps=30.0, matches=lambda t: t != 3) == [5, 4]


def test_apex_frames_keep_only_neighbours_near_the_peak():
    curve = np.array([0.0, 0.0, 0.004, 0.0095, 0.010, 0.009, 0.0])
    assert apex_frames(curve, 0, 4) == [4, 3, 5]
    assert apex_frames(curve, 0, 3) == [3, 4]  # frame 2 is far under the peak
    assert apex_frames(np.zeros(5), 0, 2) == [2]  # nothing moved: the apex alone


def test_a_noisy_clips_au_flow_is_quieter_where_nothing_moves():
    """Sensor noise of sigma 4 on a smile (AU6 + AU12) of a still head: between averaged frames the AU flow on the
    forehead, which the smile leaves still, is well under the single frames' (and the smile is still read)."""
    clip = render(SyntheticSpec(drift_px=0.0, drift_deg=0.0))
    rng = np.random.default_rng(1)
    noisy = np.clip(np.rint(clip.frames + rng.normal(0, 4.0, clip.frames.shape)), 0, 255).astype(np.uint8)
    spec = clip.spec
    phases = (spec.onset, spec.apex, spec.offset)
    quiet = {}
    for average in (False, True):
        result = analyze_frames(as_video(noisy), AnalyzeConfig(average=average), phases)
        lm, iod = result.face.landmarks, result.face.iod
        top, bottom = int(lm[17:27, 1].min() - 0.45 * iod), int(lm[17:27, 1].min() - 0.1 * iod)
        forehead = result.flow[top:bottom, int(lm[19, 0]):int(lm[24, 0])]
        quiet[average] = float(np.median(np.linalg.norm(forehead, axis=-1)))
        assert "AU12" in {a.au for a in result.aus}
    assert quiet[True] < 0.8 * quiet[False]


def test_by_default_only_a_small_still_face_is_averaged():
    """AnalyzeConfig(average=None): a face with eyes under SMALL_FACE_PX apart and a still head gets the averaged
    AU flow, a larger one the single frames' (benchmarks/README: it helps the one, not the other)."""
    clip = render(SyntheticSpec(drift_px=0.0, drift_deg=0.0))
    phases = (clip.spec.onset, clip.spec.apex, clip.spec.offset)
    small = np.stack([cv2.resize(f, None, fx=0.45, fy=0.45, interpolation=cv2.INTER_AREA) for f in clip.frames])
    for frames, averaged in ((clip.frames, False), (small, True)):
        default = analyze_frames(as_video(frames), AnalyzeConfig(), phases)
        assert (default.quality.iod_px < SMALL_FACE_PX) == averaged
        forced = analyze_frames(as_video(frames), AnalyzeConfig(average=averaged), phases)
        other = analyze_frames(as_video(frames), AnalyzeConfig(average=not averaged), phases)
        assert np.array_equal(default.flow, forced.flow) and not np.array_equal(default.flow, other.flow)
