"""Manipulation check: known answers on the real faces with controlled beauty filters, splices and JPEG."""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import pytest

from deft.data.faces import face_photo
from deft.data.synthetic import SyntheticSpec, render
from deft.errors import ConfigError, VideoError
from deft.tools.commands import add_commands
from deft.tools.manipulation import blockiness, check_manipulation, main_face, manipulate

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return {name: np.array(face_photo(name)) for name in ("astronaut", "hopper")}


@pytest.fixture(scope="module")
def clean(photos) -> dict:
    return {name: check_manipulation(img) for name, img in photos.items()}


def _heavy(seed: int) -> tuple[np.random.Generator, float]:
    rng = np.random.default_rng(seed)
    return rng, float(rng.uniform(0.7, 1.0))


def test_clean_photos_raise_no_flag(clean):
    for report in clean.values():
        assert report.raised == [] and report.score < 0.5
        assert report.features.face_vs_background is not None  # the face was found and measured


@pytest.mark.parametrize("name", ["astronaut", "hopper"])
def test_bilateral_smoothed_face_scores_higher_and_is_flagged(photos, clean, name):
    for seed in SEEDS:
        rng, strength = _heavy(seed)
        report = check_manipulation(manipulate(photos[name], "bilateral", rng, strength=strength))
        assert report.score > clean[name].score
        assert "smoothing_filter" in report.raised
        assert "flattest skin" in report.flags[0].reason


@pytest.mark.parametrize("host, donor", [("astronaut", "hopper"), ("hopper", "astronaut")])
def test_spliced_face_scores_higher(photos, clean, host, donor):
    for seed in SEEDS:
        rng, strength = _heavy(seed)
        report = check_manipulation(manipulate(photos[host], "splice", rng, strength=strength, donor=photos[donor]))
        assert report.score > clean[host].score + 0.1


def test_noisy_host_splice_is_flagged(photos):
    """Sensor noise on the host, none on the pasted face: the splice flag names the mismatch."""
    rng = np.random.default_rng(0)
    host = np.clip(photos["astronaut"] + rng.normal(0, 2.0, photos["astronaut"].shape), 0, 255).astype(np.uint8)
    report = check_manipulation(manipulate(host, "splice", rng, strength=0.5, donor=photos["hopper"]))
    assert "splice" in report.raised


def test_jpeg_recompression_is_flagged(photos, clean):
    rng = np.random.default_rng(0)
    report = check_manipulation(manipulate(photos["astronaut"], "jpeg", rng, strength=0.5))  # quality 50
    assert "recompression" in report.raised and report.score > clean["astronaut"].score
    assert "recompression" not in clean["astronaut"].raised


def test_blockiness_is_grid_offset_free():
    rng = np.random.default_rng(1)
    noise = cv2.GaussianBlur(rng.integers(0, 256, (256, 256, 3)).astype(np.uint8), (0, 0), 2)
    ok, buf = cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 40])
    jpeg = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert blockiness(noise) < 0.1
    assert blockiness(jpeg) > 0.2 and blockiness(jpeg[3:, 5:]) > 0.2  # a cropped JPEG keeps its grid


def test_smoothed_synthetic_clip_is_flagged():
    frames = render(SyntheticSpec(face="hopper", seed=2)).frames[::10]
    rng = np.random.default_rng(0)
    box, _ = main_face(frames[0])
    smoothed = np.stack([manipulate(f, "bilateral", rng, box=box, strength=1.0) for f in frames])
    before, after = check_manipulation(frames), check_manipulation(smoothed)
    assert before.raised == [] and "smoothing_filter" in after.raised
    assert before.frames_checked == after.frames_checked == 3


def test_no_face_checks_image_wide_cues_only():
    rng = np.random.default_rng(0)
    report = check_manipulation(np.clip(128 + rng.normal(0, 2, (128, 128, 3)), 0, 255).astype(np.uint8))
    assert report.features.face_vs_background is None and "face_smoother" not in report.cues
    assert not report.raised and any("no face" in w for w in report.warnings)


def test_deterministic(photos):
    a = check_manipulation(photos["hopper"]).to_dict()
    b = check_manipulation(photos["hopper"].copy()).to_dict()
    assert a == b


def test_bad_inputs(tmp_path, photos):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG but not really")
    with pytest.raises(VideoError, match="broken.png"):
        check_manipulation(str(bad))
    with pytest.raises(VideoError, match="shape"):
        check_manipulation(np.zeros((4, 5), np.uint8)[None, None])
    with pytest.raises(ConfigError, match="unknown manipulation"):
        manipulate(photos["astronaut"], "sepia", np.random.default_rng(0))


def test_cli(tmp_path, capsys):
    path = tmp_path / "face.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(face_photo("astronaut"), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 40])
    parser = argparse.ArgumentParser(prog="deft")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["manipulation", str(path), "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert "recompression" in out["raised"] and 0 <= out["score"] <= 1
    args = parser.parse_args(["manipulation", str(path)])
    assert args.func(args) == 0
    assert "recompression" in capsys.readouterr().out
