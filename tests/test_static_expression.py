"""Static (single image) expression model on apex frames of synthetic clips, held-apart seeds."""

import argparse
import dataclasses
import json

import cv2
import numpy as np
import pytest

from deft.data.synthetic import random_spec, render
from deft.errors import FaceError, VideoError
from deft.tools.expression_commands import add_commands
from deft.tools.static_expression import (
    ExpressionModelError, StaticConfig, StaticExpressionModel, extract, folder_dataset, kmeans, predict_expression,
)

EMOTIONS = ("happiness", "surprise", "disgust")
FACES = ("astronaut", "hopper")
TINY = StaticConfig(sift_words=24, orb_words=24, pca_dim=16, max_iter=200)


def apex_frame(emotion: str, face: str, seed: int) -> np.ndarray:
    """Apex frame of a random synthetic expression (2-4 px); only two frames are rendered."""
    spec = random_spec(np.random.default_rng(seed), emotion, face, 30, (2.0, 4.0), seed)
    return render(dataclasses.replace(spec, n_frames=2, onset=0, apex=1, offset=1)).frames[1]


def _split(seed0: int, per_face: int):
    items = [(apex_frame(e, f, seed0 + 10 * i + j), e) for i, e in enumerate(EMOTIONS) for f in FACES for j in range(per_face)]
    return [x for x, _ in items], [y for _, y in items]


@pytest.fixture(scope="module")
def data():
    train_images, train_labels = _split(1000, 3)
    test_images, test_labels = _split(5000, 2)  # seeds never used in training
    return {
        "train": ([extract(x, TINY) for x in train_images], train_labels),
        "test": ([extract(x, TINY) for x in test_images], test_labels, test_images),
    }


@pytest.fixture(scope="module")
def model(data):
    return StaticExpressionModel(TINY).fit_features(*data["train"])


def test_held_apart_accuracy_beats_chance(model, data):
    features, labels, _ = data["test"]
    probs = model.predict_features(features)
    accuracy = np.mean([model.labels[i] == y for i, y in zip(probs.argmax(1), labels)])
    # measured 10/12 = 0.83 with the scikit-learn fits (11/12 with the former numpy ones) vs chance 0.33;
    # the same two faces are in train and test: see the module docstring
    assert accuracy >= 0.75, accuracy
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5)


def test_predict_save_load_round_trip(model, data, tmp_path):
    _, labels, images = data["test"]
    before = model.predict(images[:2])
    assert before[0].label in EMOTIONS and not before[0].whole_image
    path = model.save(tmp_path / "static")
    assert path.endswith(".npz")
    after = StaticExpressionModel.load(path).predict(images[:2])
    for a, b in zip(before, after):
        assert a.label == b.label
        assert all(abs(a.probabilities[k] - b.probabilities[k]) < 1e-6 for k in a.probabilities)


def test_kmeans_is_deterministic():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(c, 0.1, (50, 2)) for c in (0.0, 5.0, 10.0)]).astype(np.float32)
    a, b = kmeans(points, 3, 10, seed=1), kmeans(points, 3, 10, seed=1)
    assert np.array_equal(a, b)
    assert sorted(np.round(a[:, 0]).tolist()) == [0.0, 5.0, 10.0]


def test_fit_folder_fer_style(tmp_path):
    """FER2013 layout: root/<label>/*.png, 48x48 grey face crops; predict via the tool function."""
    for label, emotion in (("happy", "happiness"), ("surprise", "surprise")):
        (tmp_path / "fer" / label).mkdir(parents=True)
        for j in range(3):
            rgb = apex_frame(emotion, "astronaut", 300 + j)
            grey = cv2.resize(cv2.cvtColor(rgb[55:200, 55:200], cv2.COLOR_RGB2GRAY), (48, 48), interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(tmp_path / "fer" / label / f"{j:04d}.png"), grey)
    images, labels = folder_dataset(tmp_path / "fer")
    assert len(images) == 6 and labels.count("happy") == 3
    cfg = StaticConfig(sift_words=8, orb_words=8, pca_dim=4, max_iter=50)
    path = StaticExpressionModel(cfg).fit_folder(tmp_path / "fer").save(tmp_path / "fer.npz")
    out = predict_expression(path, images[:1])
    assert out[0]["label"] in ("happy", "surprise") and set(out[0]["probabilities"]) == {"happy", "surprise"}


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="deft")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_fit_and_predict(tmp_path, capsys):
    for label, emotion in (("happy", "happiness"), ("surprise", "surprise")):
        (tmp_path / "faces" / label).mkdir(parents=True)
        for j in range(2):
            rgb = apex_frame(emotion, "hopper", 400 + j)
            cv2.imwrite(str(tmp_path / "faces" / label / f"{j}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    model = tmp_path / "m.npz"
    assert _cli(["expression", "fit", str(tmp_path / "faces"), "--out", str(model), "--words", "8", "--pca", "3"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["labels"] == ["happy", "surprise"] and summary["n_images"] == 4
    image = str(tmp_path / "faces" / "happy" / "0.png")
    assert _cli(["expression", "predict", str(model), image, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["image"] == image


def test_small_image_without_face_is_taken_whole():
    noise = np.random.default_rng(0).integers(0, 256, (40, 40), dtype=np.uint8)
    assert extract(noise, TINY).whole_image
    with pytest.raises(FaceError, match="no face found"):
        extract(np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8), TINY)


def test_bad_input(model, data, tmp_path):
    features, labels = data["train"]
    with pytest.raises(ExpressionModelError, match="no training images"):
        StaticExpressionModel(TINY).fit([], [])
    with pytest.raises(ExpressionModelError, match="3 images but 2 labels"):
        StaticExpressionModel(TINY).fit_features(features[:3], labels[:2])
    with pytest.raises(ExpressionModelError, match="only one class"):
        StaticExpressionModel(TINY).fit_features(features[:2], ["happiness", "happiness"])
    with pytest.raises(ExpressionModelError, match="no images given"):
        model.predict([])
    with pytest.raises(ExpressionModelError, match="not trained"):
        StaticExpressionModel(TINY).predict(["x.png"])
    with pytest.raises(VideoError, match="missing.png: no such image file"):
        model.predict([str(tmp_path / "missing.png")])
    with pytest.raises(ExpressionModelError, match="no such model file"):
        StaticExpressionModel.load(tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ExpressionModelError, match="not a deft expression model"):
        StaticExpressionModel.load(tmp_path / "junk.npz")
    with pytest.raises(VideoError, match="no such folder"):
        folder_dataset(tmp_path / "nowhere")


def test_smaller_faces_than_trained_on_are_warned(model, data):
    """Trained on ~100 px faces: the same face at a third of the size gets a warning naming the sizes."""
    _, _, images = data["test"]
    assert model.predict(images[:1])[0].warnings == []
    small = cv2.resize(images[0], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    small = cv2.copyMakeBorder(small, 64, 64, 64, 64, cv2.BORDER_REPLICATE)  # room for the face detector
    (pred,) = model.predict([small])
    assert len(pred.warnings) == 1 and "smaller than" in pred.warnings[0] and "not validated" in pred.warnings[0]
    assert "18 training images" in model.validated_on and "px wide" in model.validated_on
