"""The learned AU model: motion over its own noise, the fit, the shipped file and the evidence it keeps."""

import numpy as np
import pytest

from deft.au_model import AUModel, au_features, clip_motion, own_regions, score_aus, shipped_model
from deft.aus import AUEvidence
from deft.confidence import Covariates
from deft.errors import ConfigError
from deft.eval.calibration import AURow, apply_model, fit_au_model
from deft.labels import DETECTED_AUS
from deft.motion.phases import curve_of, find_phases
from deft.motion.regions import REGION_NAMES

GOOD = Covariates(iod_px=70.0, pose_change_deg=1.0, sharpness=300.0, background_iod=0.001, jitter_iod=0.003)
R, T, PHASES = len(REGION_NAMES), 30, (10, 15, 20, 10)  # onset, apex, offset, reference


def corners(noise: float = 0.0, seed: int = 0):
    """A smile's motion: both mouth corners up and out from frame 12 to 17; every region jittered by `noise` IOD."""
    motion, vectors = np.zeros((R, 2)), np.zeros((T, R, 2))
    for i, name in enumerate(REGION_NAMES):
        if name.startswith("mouth_corner"):
            motion[i] = (0.015 * (-1 if name.endswith("_right") else 1), -0.012)
            vectors[12:18, i] = motion[i]
    return clip_motion(motion, vectors + noise * np.random.default_rng(seed).standard_normal(vectors.shape), PHASES)


def smile(fired: bool = True) -> AUEvidence:
    return AUEvidence("AU12", "lip corner puller", 0.9, 0.02, "both", ["mouth_corner_right"] if fired else [], [], 0.02)


def test_motion_that_stands_out_of_its_noise_scores_higher_than_the_same_motion_all_clip_long():
    still, noisy = corners(), corners(noise=0.01)
    i = REGION_NAMES.index("mouth_corner_left")
    assert still.snr[i] > 2 * noisy.snr[i]
    assert still.up[i] == pytest.approx(noisy.up[i]) and still.up_snr[i] > noisy.up_snr[i] > 0
    chin = REGION_NAMES.index("chin")
    assert still.snr[chin] == 0 and still.up[chin] == 0


def test_shipped_model_reads_a_noisy_clip_as_less_likely_a_muscle():
    """The same apex motion of the mouth corners: in a clip where they also move outside the expression, the
    smile is less likely (the calibration alone, blind to the other frames, gave both the same confidence)."""
    still, noisy = (score_aus([smile()], m, GOOD, True)[0].confidence for m in (corners(), corners(noise=0.01)))
    assert still > noisy


def test_shipped_model_covers_every_detected_au_with_a_threshold_that_never_reports_unlikely_motion():
    model = shipped_model()
    assert set(model.weights) == set(DETECTED_AUS)
    assert all(0.5 <= model.threshold[au] < 1.0 for au in DETECTED_AUS)
    x = au_features(smile(), corners(), GOOD, True)
    assert len(model.weights["AU12"]) == len(x) == len(model.mean["AU12"])


def test_an_au_whose_rule_did_not_pass_is_never_reported_whatever_its_confidence():
    model = shipped_model()
    sure = AUModel({"AU12": [0.0] * len(model.mean["AU12"])}, {"AU12": [1.0] * len(model.mean["AU12"])},
                   {"AU12": [0.0] * len(model.mean["AU12"])}, {"AU12": 10.0}, {"AU12": 0.6})
    fired, unfired = (score_aus([smile(f)], corners(), GOOD, True, sure)[0] for f in (True, False))
    assert fired.confidence == unfired.confidence > 0.9  # half the calibrated 0.9, half the model's ~1.0
    assert fired.fired and not unfired.fired
    assert fired.rule_confidence == 0.9 and fired.threshold == 0.6


def test_fit_learns_the_feature_that_tells_moved_from_still_and_is_deterministic():
    rng = np.random.default_rng(3)
    rows = []
    for i in range(200):
        moved = bool(i % 2)
        x = rng.standard_normal(4) + np.array([0.0, 2.0 * moved, 0.0, 0.0])
        rows.append(AURow("AU12", 0.0, 0.0, np.zeros(7), 0.5, 0.5, moved, True, f"id{i % 5}", f"c{i}", x=x))
    a, b = fit_au_model(rows), fit_au_model(rows)
    assert a == b
    w = np.abs(a.weights["AU12"])
    assert w.argmax() == 1 and w[1] > 3 * np.delete(w, 1).max()
    conf = 2 * np.array(apply_model(a, rows, [0.0] * len(rows)))  # the model's half alone
    moved = np.array([r.moved for r in rows])
    assert conf[moved].mean() > 0.75 > 0.25 > conf[~moved].mean()


def test_model_file_round_trips_and_another_kind_is_refused(tmp_path):
    model = shipped_model()
    model.save(tmp_path / "m.json")
    assert AUModel.load(tmp_path / "m.json") == model
    (tmp_path / "other.json").write_text('{"model": "something else"}')
    with pytest.raises(ConfigError, match="another model"):
        AUModel.load(tmp_path / "other.json")


def test_own_regions_are_the_rule_regions_on_both_sides():
    assert [REGION_NAMES[i] for i in np.nonzero(own_regions("AU12"))[0]] == ["mouth_corner_right", "mouth_corner_left"]


def test_phases_keep_the_region_vectors_their_curve_was_made_of():
    rng = np.random.default_rng(0)
    gray = (rng.random((6, 128, 128)) * 255).astype(np.uint8)
    gray[3:] = np.roll(gray[0], 1, axis=0)
    landmarks = np.array([[64 + 30 * np.cos(a), 64 + 30 * np.sin(a)] for a in np.linspace(0, 2 * np.pi, 68)])
    landmarks[36:42], landmarks[42:48] = (44.0, 50.0), (84.0, 50.0)
    ph = find_phases(gray, landmarks, 40.0)
    assert ph.vectors.shape == (6, R, 2)
    assert np.allclose(ph.curve, np.round(curve_of(ph.vectors), 5))
