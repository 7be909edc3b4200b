"""The learned apex (deft.motion.apex_model): trees scored in numpy as scikit-learn scores them, the shipped
model reading what apex_features gives, and spotting taking its apex."""

from __future__ import annotations

import numpy as np
import pytest

from deft.motion.apex_model import ApexModel, apex_features, from_sklearn, shipped_apex_model
from deft.motion.phases import Phases, peaks, runner_up, spot_phases

T, R, FPS = 45, 18, 30.0


def _clip(seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict, dict]:
    rng = np.random.default_rng(seed)
    residual = rng.normal(0, 0.002, (T, R, 2))
    curve = np.linalg.norm(residual, axis=-1).mean(axis=1)
    signals = {name: rng.normal(0.5, 0.01, T) for name in ("mouth", "closure_right", "closure_left")}
    pose = {name: rng.normal(0, 2, T) for name in ("yaw", "pitch", "roll")}
    return residual, curve, signals, pose


def test_trees_sum_their_leaves_on_the_side_each_threshold_sends_a_frame():
    stump = {"feature": np.array([1, 0, 0]), "threshold": np.array([0.5, 0, 0]), "left": np.array([1, 0, 0]),
             "right": np.array([2, 0, 0]), "leaf": np.array([False, True, True]), "value": np.array([0, -1.0, 2.0])}
    model = ApexModel(0.25, [stump, stump], 2)
    x = np.array([[9.0, 0.5], [9.0, 0.6]])  # 0.5 <= 0.5 goes left
    assert model.score(x).tolist() == [0.25 - 2.0, 0.25 + 4.0]
    assert ApexModel.from_dict(model.to_dict()).score(x).tolist() == model.score(x).tolist()
    with pytest.raises(ValueError, match="expects 2 features"):
        model.score(np.zeros((3, 5)))


def test_exported_trees_score_every_frame_as_scikit_learn_does():
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 6))
    y = (x[:, 2] + 0.5 * x[:, 4] > 0.3).astype(int)
    trees = HistGradientBoostingClassifier(max_iter=20, max_leaf_nodes=7, random_state=0).fit(x, y)
    assert np.allclose(from_sklearn(trees).score(x), trees.decision_function(x), atol=1e-9)


def test_the_shipped_model_reads_the_features_of_any_clip_and_spotting_takes_its_best_frame():
    model = shipped_apex_model()
    assert model is not None and model.trees
    residual, curve, signals, pose = _clip()
    residual[20:27, 3, 1] -= 0.03 * np.hanning(7)  # one region rises and falls
    features = apex_features(residual, curve, FPS, signals, pose)
    assert features.shape == (T, model.n_features) and np.isfinite(features).all()
    scores = model.score(features)
    onset, apex, offset = spot_phases(curve, scores=scores)
    assert apex == int(np.argmax(scores)) and onset <= apex <= offset


@pytest.mark.slow
def test_a_fear_under_blinks_is_found_at_its_apex_where_the_curve_peaked_on_a_blink():
    """A dev world clip (blinks kind, seed 7104, not the benchmark's): the curve's own rise put the apex 6 frames
    early, on a blink's leftover; the learned apex is the expression's, and from it the rules fire its AUs."""
    from deft.analyze import AnalyzeConfig, analyze_frames
    from deft.data.world.clips import render_clip, world_set
    from tests.conftest import as_video

    clip = render_clip(world_set("blinks", 29, seed=7104)[28])
    true_apex = clip.truth.phases[1]
    rule = analyze_frames(as_video(clip.frames), AnalyzeConfig(calibrated=False, learned_apex=False))
    learned = analyze_frames(as_video(clip.frames), AnalyzeConfig(calibrated=False))
    assert abs(rule.phases.apex - true_apex) > 2
    assert abs(learned.phases.apex - true_apex) <= 2
    fired = {a.au for a in learned.all_aus if a.confidence >= 0.5} - set(learned.ordinary.explained)
    assert set(clip.truth.aus) <= fired


def test_the_runner_up_is_the_next_peak_apart_from_the_best_and_only_of_a_spotted_learned_apex():
    scores = np.full(40, -5.0)
    scores[[10, 11, 12, 30, 20]] = [2.0, 3.0, 2.5, 1.0, 0.5]  # 10 and 12 sit on the best peak's shoulders
    assert peaks(scores, 3) == [11, 30, 20] and peaks(scores[:3], 5) == [0]
    curve = np.zeros(40)
    curve[8:15], curve[27:34] = np.hanning(7) * 0.02, np.hanning(7) * 0.01
    spotted = Phases(*spot_phases(curve, scores=scores), "spotted", list(curve), None, scores)
    assert spotted.apex == 11 and spotted.rank == 0
    second = runner_up(spotted)
    assert (second.apex, second.rank) == (30, 1) and second.onset < 30 <= second.offset
    assert second.to_dict()["rank"] == 1 and runner_up(spotted, 2).apex == 20
    assert runner_up(Phases(10, 11, 12, "given", list(curve), None, scores)) is None  # a label is not second-guessed
    assert runner_up(Phases(*spot_phases(curve), "spotted", list(curve))) is None  # the hand rule has no runner-up


@pytest.mark.slow
def test_where_the_best_apex_shows_no_expression_the_runner_up_is_read(tmp_path):
    """A dev world clip (pose kind, seed 2678 = the benchmark's +777, not the benchmark) written as the sets are:
    the learned apex's best peak lies 23 frames early, on the turning head, where no expression AU shows; its
    runner-up is the one-sided smile's (contempt)."""
    from deft.analyze import AnalyzeConfig, analyze
    from deft.data.world.clips import render_clip, world_set, write_clip

    clip = render_clip(world_set("pose", 9, seed=2678)[8])
    write_clip(clip, str(tmp_path / "clip.mp4"))
    true_apex = clip.truth.phases[1]
    once = analyze(tmp_path / "clip.mp4", AnalyzeConfig(second_look=False))
    twice = analyze(tmp_path / "clip.mp4")
    assert abs(once.phases.apex - true_apex) > 2 and not once.aus and once.phases.rank == 0
    assert abs(twice.phases.apex - true_apex) <= 2 and twice.phases.rank == 1
    assert {a.au for a in twice.aus} == set(clip.truth.aus) and twice.emotion.label == clip.truth.composite  # contempt
    assert any(f"runner-up (frame {twice.phases.apex})" in w for w in twice.warnings)
    from deft.report import format_table
    assert f"phases (spotted, its runner-up peak): onset {twice.phases.onset}" in format_table(twice)
