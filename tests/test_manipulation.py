"""Manipulation check: known answers on the real faces with controlled beauty filters, splices and JPEG;
no false alarm on unmodified images saved as people send them."""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import pytest

from deft.data.faces import face_photo
from deft.data.synthetic import SyntheticSpec, render
from deft.data.world.clips import WorldClipSpec, render_clip
from deft.data.world.track import Camera
from deft.errors import ConfigError, VideoError
from deft.tools.commands import add_commands
from deft.tools.manipulation import MIN_FACE_PX, blockiness, check_manipulation, main_face, manipulate
from deft.tools.sent_images import h264_frame, jpeg, sent_images, small_portrait

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
        assert report.raised == [] and report.verdict in ("unmodified", "compressed", "inconclusive")
        assert "100 px" in report.validated_on
    assert clean["hopper"].probability < clean["hopper"].threshold
    assert clean["hopper"].features.face_vs_background is not None  # the face was found and measured


def test_astronaut_photo_face_is_below_the_validated_size(photos, clean):
    """Its face box is 87 px wide: the check says so instead of guessing, filtered or not."""
    report = check_manipulation(manipulate(photos["astronaut"], "bilateral", np.random.default_rng(0), strength=1.0))
    for r in (report, clean["astronaut"]):
        assert r.verdict == "inconclusive" and r.probability is None and f"{MIN_FACE_PX} px" in r.reason


@pytest.mark.parametrize("strength", [0.85, 1.0])
def test_bilateral_smoothed_face_is_flagged(photos, clean, strength):
    report = check_manipulation(manipulate(photos["hopper"], "bilateral", np.random.default_rng(0), strength=strength))
    assert report.verdict == "smoothed" and "smoothing_filter" in report.raised
    assert report.probability >= report.threshold > clean["hopper"].probability
    assert "flattest skin" in report.reason


def test_spliced_face_is_flagged(photos, clean):
    for seed in SEEDS:
        rng, strength = _heavy(seed)
        report = check_manipulation(manipulate(photos["hopper"], "splice", rng, strength=strength,
                                               donor=photos["astronaut"]))
        assert "splice" in report.raised and report.verdict in ("spliced", "smoothed")  # the donor face is smoother
        assert report.probabilities["splice"] > clean["hopper"].probabilities["splice"] + 0.1


@pytest.mark.parametrize("quality", [40, 60, 75, 90])
def test_jpeg_is_compression_not_manipulation(photos, quality):
    """The issue's complaint: a plain JPEG raised the smoothing flag. Now it is called compressed (or unmodified)."""
    report = check_manipulation(jpeg(photos["hopper"], quality))
    assert report.raised == [] and report.verdict in ("compressed", "unmodified")
    if quality <= 40:
        assert report.verdict == "compressed" and "not a manipulation" in report.reason


def test_small_portrait_and_video_frame_are_not_flagged(photos):
    """The issue's cases: a 112 px PNG portrait and a frame of an H.264 video."""
    portrait = check_manipulation(small_portrait(photos["hopper"], 112))
    assert portrait.raised == [] and portrait.verdict == "inconclusive"
    frames = render_clip(WorldClipSpec(identity="hopper-long", n_frames=10, camera=Camera(width=384, height=384,
                                       iod_px=100), emotion=None, seed=1)).frames
    frame = check_manipulation(h264_frame(frames, 28, 5))
    assert frame.raised == [] and frame.verdict in ("compressed", "unmodified", "inconclusive")


def test_too_small_face_is_inconclusive(photos):
    tiny = cv2.resize(photos["hopper"], (128, 150), interpolation=cv2.INTER_AREA)
    report = check_manipulation(manipulate(tiny, "bilateral", np.random.default_rng(0), strength=1.0))
    box = report.features.face_box
    assert box is None or box[2] - box[0] < MIN_FACE_PX
    assert report.verdict == "inconclusive" and report.raised == [] and "px" in report.reason


@pytest.mark.slow
def test_unmodified_world_views_rarely_flagged():
    """Held-apart unmodified views saved as people send them (JPEG, PNG, H.264, small portraits)."""
    reports = [check_manipulation(image.rgb) for image in sent_images("held_apart", 12)]
    assert sum(r.verdict in ("smoothed", "spliced") for r in reports) <= 1


def test_blockiness_is_grid_offset_free():
    rng = np.random.default_rng(1)
    noise = cv2.GaussianBlur(rng.integers(0, 256, (256, 256, 3)).astype(np.uint8), (0, 0), 2)
    ok, buf = cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 40])
    jpeg = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert blockiness(noise) < 0.1
    assert blockiness(jpeg) > 0.2 and blockiness(jpeg[3:, 5:]) > 0.2  # a cropped JPEG keeps its grid


def test_smoothed_world_clip_is_flagged():
    frames = render_clip(WorldClipSpec(identity="hopper", n_frames=10, camera=Camera(width=384, height=384, iod_px=100),
                                       emotion=None, seed=2)).frames[::4]
    rng = np.random.default_rng(0)
    box, _ = main_face(frames[0])
    smoothed = np.stack([manipulate(f, "bilateral", rng, box=box, strength=1.0) for f in frames])
    before, after = check_manipulation(frames), check_manipulation(smoothed)
    assert before.raised == [] and before.verdict == "unmodified" and after.verdict == "smoothed"
    assert before.frames_checked == after.frames_checked == 3


def test_no_face_is_inconclusive():
    rng = np.random.default_rng(0)
    report = check_manipulation(np.clip(128 + rng.normal(0, 2, (128, 128, 3)), 0, 255).astype(np.uint8))
    assert report.features.face_vs_background is None and report.probability is None
    assert report.verdict == "inconclusive" and not report.raised and "no face" in report.reason


def test_deterministic(photos):
    a = check_manipulation(photos["hopper"]).to_dict()
    assert a["verdict"] == "unmodified" and a["probability"] is not None
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
    cv2.imwrite(str(path), cv2.cvtColor(face_photo("hopper"), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 40])
    parser = argparse.ArgumentParser(prog="deft")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["manipulation", str(path), "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "compressed" and out["raised"] == [] and 0 <= out["probability"] <= 1
    assert 0 < out["threshold"] < 1 and out["validated_on"]
    args = parser.parse_args(["manipulation", str(path)])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "compressed" in text and "flagged at" in text and "validated on" in text
