"""Calibrated AU confidences, the clip's `reliable` verdict and where --plot draws the regions."""

import json

import numpy as np
import pytest

from deft.analyze import analyze, analyze_frames
from deft.aus import MOTION_THRESHOLD_IOD, AUEvidence
from deft.confidence import Calibration, Covariates, calibrate, shipped_calibration, strength_terms
from deft.data.world.clips import WorldClipSpec, render_clip, write_clip
from deft.data.world.track import Camera
from deft.errors import ConfigError
from deft.eval.calibration import AURow, apply, fit_calibration
from deft.eval.metrics import expected_calibration_error
from deft.reliability import MIN_IOD_PX, judge
from deft.tracking import TrackQuality
from deft.video import Video

GOOD = Covariates(iod_px=70.0, pose_change_deg=1.0, sharpness=300.0, background_iod=0.001, jitter_iod=0.003)
POOR = Covariates(iod_px=24.0, pose_change_deg=15.0, sharpness=20.0, background_iod=0.02, jitter_iod=0.01,
                  registration_error_iod=0.05, head_residual_iod=0.03)


def evidence(au: str, strength: float, fired: bool = True) -> AUEvidence:
    return AUEvidence(au, au, 0.9, strength, "both", ["r"] if fired else [], ["r"], strength)


def test_shipped_calibration_is_monotone_in_strength_for_every_au():
    cal = shipped_calibration()
    strengths = np.linspace(0.0, 12 * MOTION_THRESHOLD_IOD, 25)
    for au in cal.reliable.intercept:
        for reliable in (True, False):
            conf = [cal.confidence(au, *strength_terms(evidence(au, s)), True, reliable) for s in strengths]
            assert np.all(np.diff(conf) >= -1e-12), (au, reliable)


def test_a_rule_that_did_not_pass_its_test_is_never_fired():
    aus = [evidence(au, 20 * MOTION_THRESHOLD_IOD, fired=False) for au in shipped_calibration().reliable.intercept]
    out = calibrate(aus, True)
    assert out and all(a.confidence < 0.5 for a in out)
    assert all(a.rule_confidence == 0.9 and a.rule_score == 0.9 for a in out)  # the experts still read the rule's own


def test_an_au_the_calibration_does_not_know_keeps_its_rule_confidence():
    (a,) = calibrate([evidence("AU99", 0.05)], True)
    assert a.confidence == 0.9 and a.rule_confidence is None


def test_a_calibration_of_another_model_is_refused(tmp_path):
    path = tmp_path / "cal.json"
    shipped_calibration().save(path)
    d = json.loads(path.read_text())
    d["model"] = "sigmoid(a + b*strength)"  # a file from another version of the model
    path.write_text(json.dumps(d))
    with pytest.raises(ConfigError, match="refit"):
        Calibration.load(path)


def test_the_fit_recovers_a_known_calibration():
    """Rows drawn from a known P(moved | strength), steeper on reliable clips: the fit's ECE on fresh draws is small."""
    rng = np.random.default_rng(0)

    def draw(n):
        rows = []
        for i in range(n):
            s, reliable = rng.uniform(0, 3), bool(i % 2)
            z = -3.0 + (2.5 if reliable else 0.5) * s
            moved = rng.random() < 1 / (1 + np.exp(-z))
            rows.append(AURow("AU12", s, 0.0, np.zeros(6), 0.0, 0.0, bool(moved), True, str(i % 5), str(i), reliable))
        return rows

    cal = fit_calibration(draw(4000))
    test = draw(4000)
    assert expected_calibration_error(apply(cal, test), [r.moved for r in test]) < 0.03
    assert cal.reliable.slope["AU12"] > 1.5 and cal.unreliable.slope["AU12"] < 1.0


def quality(**kw) -> TrackQuality:
    base = dict(iod_px=60.0, pose_range={"yaw": 1.0, "pitch": 1.0, "roll": 1.0}, jitter_iod=0.003, tracked_frames=30,
                lost_frames=0, detections=3, frame_quality=[1.0] * 30, sharpness=300.0, motion_s=0.3, motion_kind="micro")
    return TrackQuality(**{**base, **kw})


@pytest.mark.parametrize("change, words", [
    (dict(iod_px=MIN_IOD_PX - 4), "face too small"),
    (dict(sharpness=3.0), "blurred"),
    (dict(lost_frames=4), "face lost"),
    (dict(motion_s=6.0, motion_kind="longer"), "longer than a macro-expression"),
])
def test_each_quality_problem_makes_the_clip_unreliable_with_its_reason(change, words):
    assert judge(quality(), GOOD) == (True, "")
    ok, reason = judge(quality(**change), GOOD)
    assert not ok and words in reason


def test_a_head_turn_and_leftover_motion_are_named():
    ok, reason = judge(quality(), POOR)
    assert not ok and "head turned 15.0°" in reason and "whole face moves" in reason and "registration error" in reason
    assert "nose against eye corners 0.030 IOD" in reason


def world_clip(tmp_path, spec: WorldClipSpec):
    clip = render_clip(spec)
    path = tmp_path / "clip.mp4"
    write_clip(clip, str(path))
    return analyze(path), clip.truth


@pytest.mark.slow
def test_a_no_expression_low_quality_clip_is_unreliable_and_claims_nothing_it_did_not_see(tmp_path):
    """The issue's case: head turn + speech + blinks, eyes 30 px apart, CRF 30, no expression."""
    spec = WorldClipSpec("astronaut-dark", 45, Camera(iod_px=30, crf=30), ("head", "speech", "blink"), None, seed=5)
    result, truth = world_clip(tmp_path, spec)
    assert not result.reliable and result.reliable_reason
    moved = {au for e in truth.events for au in e.aus}  # the talking really parts the lips (AU25)
    # Low: on such clips a fired rule is right about a third of the time, and the confidences say so (they were
    # 1.0 for AU1, AU4 and AU25 before calibration); nothing it did not see is fired.
    assert max((a.confidence for a in result.all_aus if a.au not in moved), default=0.0) < 0.4
    assert {a.au for a in result.aus} <= moved
    out = result.to_dict()
    assert out["reliable"] is False and out["reliable_reason"] == result.reliable_reason


@pytest.mark.slow
def test_a_clean_expression_clip_is_reliable(tmp_path):
    result, truth = world_clip(tmp_path, WorldClipSpec("astronaut", 45, Camera(iod_px=70), (), "happiness", seed=3))
    assert result.reliable, result.reliable_reason
    assert {a.au for a in result.aus} & set(truth.aus)


def test_plot_regions_sit_on_the_apex_frames_face():
    from deft.plot import regions_on_crop
    from tests.test_tracking import posed

    n = 10
    camera = Camera(width=320, height=240, iod_px=50)
    centre = np.stack([np.linspace(0.35, 0.65, n), np.full(n, 0.42)], 1)  # ~10 px a frame to the right
    frames, truth, _ = posed(n, centre=centre, camera=camera)
    result = analyze_frames(Video(frames, 30.0, "moving", "memory", (camera.width, camera.height)))
    t, iod, last = result.face.transform, result.face.iod, n - 1
    eyes = lambda frame: (truth[frame, 36:48] @ t[:2, :2].T + t[:, 2]).mean(axis=0)
    assert abs(eyes(last)[0] - eyes(0)[0]) > 0.5 * iod  # the face moved: frame 0's discs would be off it
    placed = dict(zip([r.name for r in result.regions], regions_on_crop(result, last)))
    brows = (placed["inner_brow_right"][0] + placed["inner_brow_left"][0]) / 2
    assert np.linalg.norm(brows[0] - eyes(last)[0]) < 0.1 * iod


def test_head_residual_is_what_a_2d_alignment_cannot_undo():
    from deft.face3d import mean_face
    from deft.tracking.quality import head_residual

    lm = mean_face()[:, :2] * 60 + 200  # a frontal face, eyes ~60 px apart
    angle = np.radians(12)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = lm @ rot.T * 1.1 + [15, -8]  # rolled, nearer, shifted: all undone by a similarity
    assert head_residual(lm, moved) < 1e-6
    turned = moved.copy()
    turned[27:36, 0] += 3.0  # the nose slides 3 px against the eye corners: a turn in depth
    assert head_residual(lm, turned) > 0.01
    assert np.isnan(head_residual(lm, np.full_like(lm, np.nan)))
