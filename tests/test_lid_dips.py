"""Blinks the eye patch misses on small or compressed eyes, found on dlib's lid gaps dipping (deft.ordinary.eyelids)."""

from __future__ import annotations

import numpy as np
import pytest

from deft.ordinary.doubt import doubt
from deft.ordinary.eyelids import EyelidConfig, dip_events, lid_dips, lid_events
from deft.ordinary.result import KIND_UNSURE, Ordinary

T, FPS, HALF = 45, 30.0, 30


def _eyes(value: float = 0.12) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {side: value + 0.002 * rng.standard_normal(T) for side in ("right", "left")}


def _closure(level: float, frames: slice) -> dict[str, np.ndarray]:
    out = {side: np.full(T, 0.02) for side in ("right", "left")}
    for side in out:
        out[side][frames] = level
    return out


def test_both_lids_meeting_is_a_blink_the_patch_alone_missed():
    gap = _eyes()
    for side in gap:
        gap[side][20:26] -= np.array([0.01, 0.03, 0.045, 0.045, 0.03, 0.01])
    closure = _closure(0.10, slice(21, 25))  # the patch departs, but under EyelidConfig.closed (0.16)
    dip = lid_dips(gap, np.zeros(T), FPS)
    assert lid_events(closure, gap, FPS) == []
    [blink] = dip_events(closure, dip, FPS, [])
    assert (blink.kind, blink.side) == ("blink", "both") and 20 <= blink.onset <= blink.apex <= blink.offset <= 25
    shifted = _closure(0.08, slice(21, 25))  # under doubt's 0.13: the patch alone could be the eye shifting
    [stated] = doubt([blink], shifted, np.mean(list(gap.values()), axis=0), None, HALF, dipped=dip >= EyelidConfig().dip_iod)
    assert not stated.unsure
    assert doubt([blink], shifted, np.mean(list(gap.values()), axis=0), None, HALF)[0].unsure  # no dip given: doubted


def test_a_closure_the_two_scores_disagree_on_is_no_confident_blink_or_wink():
    """Issue 18's hard clip (turning head, eyes 30 px apart): the right eye winked; the open left eye, moved a
    pixel by the turn, read half as closed on the plain score (0.053 of 0.117) but not on the shift-tolerant one.
    deft stated a blink; on dev clips such closures were winks about half the time: now "blink or wink", unsure."""
    gap = _eyes()
    for side in gap:
        gap[side][20:26] -= np.array([0.01, 0.03, 0.045, 0.045, 0.03, 0.01])  # dlib moves both lids in a wink
    closure = _closure(0.117, slice(21, 25))
    closure["left"][21:25] = 0.053
    shifted = _closure(0.108, slice(21, 25))
    shifted["left"][21:25] = 0.024
    dip = lid_dips(gap, np.zeros(T), FPS)
    [plain_only] = dip_events(closure, dip, FPS, [])
    assert plain_only.kind == "blink"  # what deft said before
    [event] = dip_events(closure, dip, FPS, [], shifted=shifted)
    assert event.unsure == KIND_UNSURE and (event.said_kind(), event.said_aus()) == ("blink or wink", "AU45 or AU46")
    assert event.strength == pytest.approx(0.117)  # the plain score's peak, as before
    assert "blink or wink at frames" in Ordinary([event]).warnings()[0]
    both = _closure(0.3, slice(21, 25))
    [blink] = lid_events(both, gap, FPS, shifted=_closure(0.2, slice(21, 25)))  # both eyes closed: a blink
    assert (blink.kind, blink.unsure) == ("blink", "")
    one = _closure(0.3, slice(21, 25))
    one["left"][21:25] = 0.1  # on the plain score a wink ...
    tolerant = _closure(0.12, slice(21, 25))  # ... but the right eye's extra change was a shift: both alike
    [blink] = lid_events(one, gap, FPS, shifted=tolerant)
    assert (blink.kind, blink.unsure) == ("blink", "")
    tolerant["left"][21:25] = 0.03
    [wink] = lid_events(one, gap, FPS, shifted=tolerant)  # both scores say the left eye stayed open
    assert (wink.kind, wink.side, wink.unsure) == ("wink", "right", "")


def test_a_nod_or_a_still_eye_makes_no_dip_event():
    pitch = np.zeros(T)
    pitch[18:27] = 30.0 * np.sin(np.linspace(0, np.pi, 9))  # a quick nod down and back
    gap = _eyes()
    for side in gap:
        gap[side] += -0.001 * pitch  # what the nod alone does to dlib's lid gap (DoubtConfig.nod_iod_per_deg)
    closure = _closure(0.10, slice(20, 25))  # the eyeball moving against its corners
    assert dip_events(closure, lid_dips(gap, np.zeros(T), FPS), FPS, [])  # read as a blink with the nod left in
    assert dip_events(closure, lid_dips(gap, pitch, FPS), FPS, []) == []
    still = _eyes()
    for side in still:
        still[side][20:26] -= 0.04  # dlib's lids jump, the eye itself does not change
    assert dip_events(_closure(0.03, slice(20, 26)), lid_dips(still, np.zeros(T), FPS), FPS, []) == []


# ---- world-rendered clips: the whole pipeline -------------------------------------------------------------

def _analysed(tmp_path, spec):
    from deft.analyze import analyze
    from deft.data.world.clips import render_clip, write_clip

    clip = render_clip(spec)
    path = tmp_path / "clip.mp4"
    write_clip(clip, str(path))
    return clip, analyze(path)


@pytest.mark.slow
def test_blinks_on_small_compressed_eyes_are_found(tmp_path):
    """Dev clip (eyes 27 px apart, CRF 31, seed 7101002): both blinks' patch scores peak at .07-.11, so none was found."""
    from deft.data.world.clips import WorldClipSpec
    from deft.data.world.identity import IDENTITIES
    from deft.data.world.track import Camera

    spec = WorldClipSpec(identity=IDENTITIES[2], n_frames=45, camera=Camera(width=160, height=160, iod_px=27.3, crf=31),
                         distractors=("blink", "wink", "widen"), emotion=None, seed=7101002)
    clip, result = _analysed(tmp_path, spec)
    truth = [e for e in clip.truth.to_dict()["events"] if e["kind"] == "blink"]
    stated = [e for e in result.ordinary.stated() if e.kind == "blink"]
    assert len(truth) == 2
    assert all(any(e.overlaps(t["onset"], t["offset"]) for e in stated) for t in truth)
    assert "AU45" in {a["au"] for a in result.to_dict()["ordinary"]["aus"]}


@pytest.mark.slow
def test_a_nod_on_small_eyes_states_no_blink(tmp_path):
    """Dev clip (head only, pitch over 20°, eyes 26 px apart, CRF 30, seed 7102001): the nod dips both lid gaps
    .07 IOD; the blink that makes is found but not stated (the head turned past the 2D limit)."""
    from deft.data.world.clips import WorldClipSpec
    from deft.data.world.identity import IDENTITIES
    from deft.data.world.track import Camera

    spec = WorldClipSpec(identity=IDENTITIES[1], n_frames=45, camera=Camera(width=160, height=160, iod_px=26.0, crf=30),
                         distractors=("head",), emotion=None, seed=7102001)
    _, result = _analysed(tmp_path, spec)
    lids = [e for e in result.ordinary.events if e.kind in ("blink", "wink", "closed")]
    assert lids and all(e.unsure for e in lids)
    assert not {"AU43", "AU45", "AU46"} & {a["au"] for a in result.to_dict()["ordinary"]["aus"]}
