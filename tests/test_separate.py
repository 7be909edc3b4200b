"""Expression motion apart from speech and blinks (deft.ordinary.separate): the motion curve, the flow's
reference frame and which AUs ordinary motion still explains."""

from __future__ import annotations

import numpy as np
import pytest

from deft.analyze import AnalyzeConfig, analyze_frames
from deft.data.synthetic import profile
from deft.data.world.clips import render_clip, world_set
from deft.labels import DETECTED_AUS
from deft.motion.phases import smooth_curve
from deft.motion.regions import REGION_NAMES
from deft.aus import AUEvidence
from deft.ordinary import explained_aus, matched_reference, separator, set_aside
from deft.ordinary.beyond import beyond_speech
from deft.confidence import Covariates
from deft.detection_limit import sensitivity
from deft.ordinary.result import KIND_UNSURE, Ordinary, OrdinaryEvent
from tests.conftest import as_video

T, FPS = 45, 30.0
MOUTH = 0.06 * (0.5 - 0.5 * np.cos(2 * np.pi * 4.0 * np.arange(T) / FPS))  # syllables at 4 Hz (IOD)


def _talking(extra: dict[str, np.ndarray] | None = None) -> Ordinary:
    signals = {"mouth": MOUTH, "lips": 0.5 * MOUTH, "jaw": 0.8 * MOUTH,
               "closure_right": np.zeros(T), "closure_left": np.zeros(T), **(extra or {})}
    return Ordinary([OrdinaryEvent("speech", 0, 8, T - 1, ("AU25", "AU26"))], signals=signals)


def _region(vectors: np.ndarray, name: str, motion: np.ndarray) -> None:
    vectors[:, REGION_NAMES.index(name), 1] += motion


def test_speech_taken_out_of_the_curve_leaves_the_expression_peak():
    """Lips and chin move with each syllable (down, larger than the expression); the inner brows rise once."""
    vectors = np.zeros((T, len(REGION_NAMES), 2))
    for name, gain in (("lower_lip", 1.0), ("chin", 1.2), ("mouth_corner_right", 0.3), ("mouth_corner_left", 0.3)):
        _region(vectors, name, gain * MOUTH)
    bump = 0.03 * profile(T, 16, 22, 28)  # its apex between two syllables
    for name in ("inner_brow_right", "inner_brow_left"):
        _region(vectors, name, -bump)
    frames = np.arange(T)
    raw = np.linalg.norm(vectors, axis=-1).mean(axis=1)
    assert abs(int(np.argmax(raw)) - 22) > 2  # the syllables win the raw curve
    curve = separator(_talking())(frames, vectors)
    assert abs(int(np.argmax(smooth_curve(curve))) - 22) <= 1
    assert curve[22] == pytest.approx(2 * 0.03 / len(REGION_NAMES), rel=0.05)  # the brows' motion is kept whole


def test_a_blink_is_taken_out_only_inside_it():
    """Lid motion with the closure inside the blink is ordinary; the same regions moving outside it are not."""
    closure = 0.3 * profile(T, 8, 11, 14)
    lids = Ordinary([OrdinaryEvent("blink", 8, 11, 14, ("AU45",))],
                    signals={"mouth": np.zeros(T), "lips": np.zeros(T), "jaw": np.zeros(T),
                             "closure_right": closure, "closure_left": closure})
    vectors = np.zeros((T, len(REGION_NAMES), 2))
    for name in ("upper_eyelid_right", "upper_eyelid_left", "inner_brow_right", "inner_brow_left"):
        _region(vectors, name, 0.2 * closure)
    widen = 0.02 * profile(T, 28, 32, 36)  # lids and brows up later, the closure score moved a little too
    lids.signals["closure_right"] = lids.signals["closure_left"] = closure + 0.5 * widen
    for name in ("upper_eyelid_right", "upper_eyelid_left", "inner_brow_right", "inner_brow_left"):
        _region(vectors, name, -widen)
    curve = separator(lids)(np.arange(T), vectors)
    assert abs(int(np.argmax(curve)) - 32) <= 1 and curve[11] < 0.2 * curve[32]


def test_no_speech_or_eyelid_event_leaves_the_curve_as_it_was():
    assert separator(Ordinary()) is None
    assert separator(Ordinary([OrdinaryEvent("widen", 3, 5, 8, ("AU5",))], signals=_talking().signals)) is None


def test_reference_frame_has_the_apex_mouth_opening_outside_the_expression():
    talk = _talking()
    onset, apex, offset = 20, 26, 32
    reference = matched_reference(talk, (onset, apex, offset), FPS)
    assert reference <= onset or reference >= offset
    assert abs(MOUTH[reference] - MOUTH[apex]) <= 0.025 / 4
    assert abs(reference - onset) <= 0.5 * FPS or abs(reference - offset) <= 0.5 * FPS
    matched = int(np.argmin([abs(MOUTH[t] - MOUTH[apex]) if t <= 12 else 1.0 for t in range(T)]))
    assert matched_reference(talk, (matched, apex, offset), FPS) == matched  # the onset already matches: kept
    assert matched_reference(Ordinary(), (onset, apex, offset), FPS) == onset  # nothing ordinary: the onset


def test_speech_explains_mouth_aus_only_where_the_mouth_moved_between_the_frames():
    talk = _talking()
    open_, shut = int(np.argmax(MOUTH[:10])), int(np.argmin(MOUTH[:10]))
    assert explained_aus(talk, shut, open_, {"AU15", "AU25", "AU12"}) == {"AU15": "speech", "AU25": "speech"}
    same = int(np.argmin([abs(MOUTH[t] - MOUTH[open_]) if abs(t - open_) > 3 else 1.0 for t in range(T)]))
    assert explained_aus(talk, same, open_, {"AU15", "AU25", "AU12"}) == {"AU25": "speech"}  # lips apart: talking


def test_speech_explains_corners_down_only_past_half_a_syllable():
    """The mouth drags its corners down by a share of its opening: a sad micro-expression's AU15 under a
    quarter to half a syllable's change of opening is the expression's (MOVED_FOR), past half a syllable speech's."""
    unit = 0.025 / 4  # one mismatch unit: a quarter of MouthConfig.syllable_iod
    ramp = unit * np.arange(T) / 4  # the mouth opens a quarter unit per frame
    talk = _talking({"mouth": ramp, "lips": 0.5 * ramp, "jaw": 0.8 * ramp})
    apex = T - 1
    assert explained_aus(talk, apex - 6, apex, {"AU15", "AU25"}) == {"AU25": "speech"}  # 1.5 units
    assert explained_aus(talk, apex - 12, apex, {"AU15", "AU25"}) == {"AU15": "speech", "AU25": "speech"}  # 3


@pytest.mark.slow
@pytest.mark.parametrize("name, seed, index", [("speech", 2679, 6), ("blinks", 2680, 0), ("blinks", 2680, 12)])
def test_expression_under_speech_or_blinks_is_found_at_its_apex(name, seed, index):
    """World clips of the seed-shifted dev sets (+777, not the benchmark's), where the apex used to land on a
    syllable or a blink: the apex is the expression's and the rules fire its AUs, none set aside."""
    clip = render_clip(world_set(name, index + 1, seed=seed)[index])
    result = analyze_frames(as_video(clip.frames), AnalyzeConfig(calibrated=False))
    assert abs(result.phases.apex - clip.truth.phases[1]) <= 2
    fired = {a.au for a in result.all_aus if a.confidence >= 0.5} - set(result.ordinary.explained)
    assert set(clip.truth.aus) & set(DETECTED_AUS) <= fired


def _speech_and_corners(corners_down: float) -> np.ndarray:
    """Lips, chin and corners move with each syllable; the corners also go down once (AU15) by `corners_down`."""
    rng = np.random.default_rng(4)
    vectors = 0.001 * rng.standard_normal((T, len(REGION_NAMES), 2))  # flow noise
    for name, gain in (("lower_lip", 1.0), ("chin", 1.2), ("mouth_corner_right", 0.3), ("mouth_corner_left", 0.3)):
        _region(vectors, name, gain * MOUTH)
    for name in ("mouth_corner_right", "mouth_corner_left"):
        _region(vectors, name, corners_down * profile(T, 14, 19, 24))  # image y grows downwards
    return vectors


def test_corners_pulled_down_past_the_speech_are_the_expressions():
    """Speech explains AU15 where the mouth's opening changed; with speech's fitted motion taken out, corners that
    still went down well past the leftover's noise are kept as the expression's (deft.ordinary.beyond)."""
    talk = _talking()
    shut, apex = 7, 19  # the mouth shut at the reference, wide open at the apex: speech explains AU15 there
    assert explained_aus(talk, shut, apex, {"AU15"}) == {"AU15": "speech"}
    phases = (14, apex, 24, shut)
    assert "AU15" not in beyond_speech(talk, _speech_and_corners(0.0), phases)
    kept = beyond_speech(talk, _speech_and_corners(0.03), phases)
    assert kept["AU15"] > 5.0 and "AU25" not in kept  # AU25 is speech's own: never kept
    assert explained_aus(talk, shut, apex, {"AU15"}, past_speech=frozenset(kept)) == {}
    assert beyond_speech(Ordinary(), _speech_and_corners(0.03), phases) == {}  # no speech: nothing to look past


def test_a_kept_au_is_said_and_only_where_speech_would_have_explained_it():
    talk = _talking()
    aus = [AUEvidence("AU15", "", 0.9, 0.02, "both", ["mouth_corner_right"]),
           AUEvidence("AU12", "", 0.9, 0.02, "both", ["mouth_corner_right"])]
    shut = int(np.argmin(MOUTH[:10]))
    open_ = int(np.argmax(MOUTH[:10]))
    moved_past = {"AU15": 4.0, "AU12": 4.0}  # AU12 is not speech's to explain: not said as kept from it
    assert [a.au for a in set_aside(talk, aus, (shut, open_, open_ + 3), moved_past)] == ["AU15", "AU12"]
    assert talk.beyond == {"AU15": 4.0} and "AU15" not in talk.explained
    assert any(w.startswith("AU15 kept as expression though speech") and w.endswith("expression)")
               for w in talk.warnings())


def _blinked(unsure: str) -> Ordinary:
    """A lid closed at frames 8-12 (closure signals in separate.py's units), found as a blink deft may doubt."""
    closure = 0.3 * profile(T, 8, 10, 12)
    signals = {"closure_right": closure, "closure_left": closure, **{k: np.zeros(T) for k in ("mouth", "lips", "jaw")}}
    return Ordinary([OrdinaryEvent("blink", 8, 10, 12, ("AU45",), unsure=unsure)], signals=signals)


def test_aus_only_a_doubted_lid_explains_are_neither_found_nor_ruled_out():
    """A closing lid drags the lower lid and the inner brows (AU7, AU4 alone): set aside under a blink deft states;
    under one it cannot tell from a head turn, set aside too (it may be the lid's) but doubted: no 'none'."""
    aus = [AUEvidence(au, "", 0.9, 0.02, "both", ["lower_lid_right"]) for au in ("AU4", "AU7")]
    sure, doubted = _blinked(""), _blinked("the head turned")
    assert set_aside(sure, aus, (0, 10, 20)) == [] == set_aside(doubted, aus, (0, 10, 20))
    assert sure.explained == doubted.explained == {"AU4": "blink", "AU7": "blink"} and sure.doubted == {}
    assert doubted.doubted == {"AU4": "blink", "AU7": "blink"} and doubted.to_dict()["doubted"] == doubted.doubted
    assert any(w.startswith("AU4, AU7 not read as expression: a blink deft cannot tell") for w in doubted.warnings())
    unnamed = _blinked(KIND_UNSURE)  # a lid surely closed, deft cannot say which: it explains them
    set_aside(unnamed, aus, (0, 10, 20))
    assert unnamed.explained == sure.explained and unnamed.doubted == {}
    good = Covariates(iod_px=70.0, pose_change_deg=1.0, sharpness=300.0, background_iod=0.001, jitter_iod=0.003)
    assert not sensitivity(good, True, set()).inconclusive
    verdict = sensitivity(good, True, set(), doubted=("AU4", "AU7"))
    assert verdict.inconclusive and "AU4, AU7 moved where a lid moved" in verdict.reason
    assert not sensitivity(good, True, {"AU12"}, doubted=("AU4",)).inconclusive  # an expression AU was found
