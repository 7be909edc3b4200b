"""Clip-level MIL expression model on synthetic clips of known phases, held-apart seeds."""

import cv2
import numpy as np
import pytest

from deft.data.synthetic import random_spec, render
from deft.errors import ConfigError, VideoError
from deft.tools.dynamic_expression import (
    N_FEATURES, ClipSegments, DynamicConfig, DynamicExpressionModel, class_balanced_weights, predict_clip,
    segment_features,
)
from deft.tools.static_expression import ExpressionModelError
from deft.video import write_video

EMOTIONS = ("happiness", "surprise", "disgust")
FACES = ("astronaut", "hopper")
TINY = DynamicConfig(epochs=100)


def _clips(seed0: int, per_face: int) -> list[dict]:
    out = []
    for i, emotion in enumerate(EMOTIONS):
        for face in FACES:
            for j in range(per_face):
                seed = seed0 + 100 * i + 10 * (face == "hopper") + j
                spec = random_spec(np.random.default_rng(seed), emotion, face, 24, (1.5, 3.0), seed)
                clip = render(spec)
                out.append({"segments": segment_features(clip.frames, TINY), "label": emotion,
                            "window": (spec.onset, spec.offset), "frames": clip.frames})
    return out


@pytest.fixture(scope="module")
def data():
    return {"train": _clips(7000, 2), "test": _clips(9000, 1)}  # test seeds never used in training


@pytest.fixture(scope="module")
def model(data):
    train = data["train"]
    return DynamicExpressionModel(TINY).fit_segments([c["segments"] for c in train], [c["label"] for c in train])


def test_segments_cover_the_clip(data):
    seg = data["train"][0]["segments"]
    assert seg.features.shape == (11, N_FEATURES)  # 24 frames, windows of 4 every 2
    assert seg.ranges[0] == (0, 3) and seg.ranges[-1] == (20, 23)


def test_accuracy_and_top_segment(model, data):
    test = data["test"]
    preds = model.predict_segments([c["segments"] for c in test])
    accuracy = np.mean([p.label == c["label"] for p, c in zip(preds, test)])
    assert accuracy >= 5 / 6, accuracy  # measured 6/6 vs chance 1/3
    for p, c in zip(preds, test):
        onset, offset = c["window"]
        first, last = p.top_segment
        assert first <= offset and last >= onset, (p.top_segment, c["window"])  # the weighted segment is in the expression
        assert abs(sum(p.weights) - 1) < 1e-5 and len(p.weights) == len(p.ranges)


def test_predict_frames_save_load_and_tool(model, data, tmp_path):
    clip = data["test"][0]
    direct = model.predict([clip["frames"]])[0]
    cached = model.predict_segments([clip["segments"]])[0]
    assert direct.label == cached.label and direct.top_segment == cached.top_segment
    folder = model.save(tmp_path / "mil")
    loaded = DynamicExpressionModel.load(folder).predict_segments([clip["segments"]])[0]
    assert loaded.label == cached.label
    assert all(abs(loaded.probabilities[k] - cached.probabilities[k]) < 1e-6 for k in EMOTIONS)
    video = tmp_path / "clip.mp4"
    write_video(clip["frames"], video)
    out = predict_clip(folder, str(video))
    assert out["label"] == clip["label"] and len(out["top_segment"]) == 2


def test_class_balanced_weights_known_values():
    w = class_balanced_weights([100, 10], beta=0.99)  # effective numbers 63.4 and 9.56 (Cui et al., eq. 3)
    assert np.allclose(w, [0.262, 1.738], atol=1e-3) and w.sum() == pytest.approx(2.0)
    assert np.allclose(class_balanced_weights([100, 10], beta=0.0), [1.0, 1.0])
    assert class_balanced_weights([100, 10], beta=0.9999)[1] / class_balanced_weights([100, 10], beta=0.9999)[0] > 9


def _bags(rng: np.random.Generator, centre: float, n: int) -> list[ClipSegments]:
    """Bags of 5 instances with one informative feature; instance 2 carries the class signal (overlapping classes)."""
    bags = []
    for _ in range(n):
        x = np.zeros((5, N_FEATURES), np.float32)
        x[:, 0] = rng.normal(0.0, 1.0, 5)
        x[2, 0] = rng.normal(centre, 1.0)
        bags.append(ClipSegments(x, [(2 * i, 2 * i + 3) for i in range(5)]))
    return bags


def test_balanced_loss_helps_the_rare_class():
    """10:1 imbalance: plain cross-entropy leans to the common class; measured rare recall 0.03 vs 0.34."""
    recall = {"plain": [], "balanced": []}
    for seed in range(3):
        rng = np.random.default_rng(seed)
        train, labels = _bags(rng, -1.0, 40) + _bags(rng, 1.0, 4), ["common"] * 40 + ["rare"] * 4
        test = _bags(np.random.default_rng(100 + seed), 1.0, 40)
        for loss in recall:
            config = DynamicConfig(loss=loss, epochs=150, hidden=8, attention=8, dropout=0.0, seed=seed)
            preds = DynamicExpressionModel(config).fit_segments(train, labels).predict_segments(test)
            recall[loss].append(np.mean([p.label == "rare" for p in preds]))
    assert np.mean(recall["balanced"]) > np.mean(recall["plain"]) + 0.15, recall


def test_bad_input(model, data, tmp_path):
    segments = [c["segments"] for c in data["train"]]
    with pytest.raises(ExpressionModelError, match="no training clips"):
        DynamicExpressionModel(TINY).fit([], [])
    with pytest.raises(ExpressionModelError, match="3 clips but 2 labels"):
        DynamicExpressionModel(TINY).fit_segments(segments[:3], ["happiness", "surprise"])
    with pytest.raises(ExpressionModelError, match="no clips given"):
        model.predict([])
    with pytest.raises(VideoError, match="fewer than one 4-frame segment"):
        segment_features(data["test"][0]["frames"][:3], TINY)
    with pytest.raises(VideoError, match="no such file"):
        model.predict([str(tmp_path / "missing.mp4")])
    with pytest.raises(ExpressionModelError, match="no config.json"):
        DynamicExpressionModel.load(tmp_path / "nowhere")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{")
    (tmp_path / "broken" / "model.safetensors").write_bytes(b"x")
    with pytest.raises(ExpressionModelError, match="unreadable dynamic expression model"):
        DynamicExpressionModel.load(tmp_path / "broken")
    with pytest.raises(ConfigError, match="unknown loss"):
        DynamicExpressionModel(DynamicConfig(loss="focal"))


def test_smaller_faces_than_trained_on_are_warned(model, data, tmp_path):
    clip = data["test"][0]
    assert model.predict_segments([clip["segments"]])[0].warnings == []
    small = np.stack([cv2.copyMakeBorder(cv2.resize(f, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
                                         64, 64, 64, 64, cv2.BORDER_REPLICATE) for f in clip["frames"]])
    (pred,) = model.predict([small])
    assert len(pred.warnings) == 1 and "not validated" in pred.warnings[0]
    loaded = DynamicExpressionModel.load(model.save(tmp_path / "mil"))
    assert loaded.trained_iod == pytest.approx(model.trained_iod, abs=0.01)
    assert "12 training clips" in loaded.validated_on and "px apart" in loaded.validated_on
