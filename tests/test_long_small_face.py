"""A long video's interval on a small face is analysed upscaled (for HOG) but judged at its source size; an
interval whose analysis found only a blink is called one."""

from types import SimpleNamespace

import numpy as np
import pytest

from deft.analyze import analyze_frames
from deft.data.world.events import add_event, still_track
from deft.data.world.identity import load_identity
from deft.data.world.render import render_face
from deft.data.world.track import Camera
from deft.long.intervals import MIN_IOD_PX, analyse_intervals, analysed_kind
from deft.long.series import FaceSeries
from deft.long.spotting import Interval
from deft.reliability import MIN_IOD_PX as RELIABLE_IOD_PX
from deft.video import Video

FIRST = 100  # the clip's frame 0 is the video's frame 100


def _interval_and_short_clip(iod: float):
    """The same frames analysed twice with the same phases: as a long video's interval (cropped, upscaled to
    ~MIN_IOD_PX) and as a short clip of that face (as filmed)."""
    camera = Camera(width=128, height=128, iod_px=iod, noise=2.0)
    rendered = render_face(load_identity("hopper"), still_track(40), camera)
    series = FaceSeries(0, np.arange(FIRST, FIRST + 40), rendered.landmarks, np.zeros((40, 3)), np.full(40, iod),
                        np.ones(40), np.zeros((40, 18, 2)), 6)
    seen = []
    interval = analyse_intervals(enumerate(rendered.frames, start=FIRST), [series],
                                 {0: [Interval(112, 116, 122, "micro", 2)]}, 30.0, FIRST + 40, (128, 128),
                                 extra=lambda a: seen.append(a) or {})[0][0]
    long = seen[0]
    idx = long.frame_indices
    short = analyze_frames(Video(rendered.frames[[i - FIRST for i in idx]], 30.0, "short", "memory", (128, 128), idx),
                           phases=(idx.index(112), idx.index(116), idx.index(122)))
    return interval, long, short


@pytest.mark.parametrize("iod", [16.0, 40.0])
def test_an_upscaled_interval_reads_the_source_faces_size_and_sharpness(iod):
    interval, long, short = _interval_and_short_clip(iod)
    assert long.face.iod > 0 and MIN_IOD_PX / iod > 1.4  # it was upscaled
    assert long.quality.iod_px == pytest.approx(short.quality.iod_px, rel=0.06)
    assert long.quality.iod_px == pytest.approx(iod, rel=0.1)  # not ~MIN_IOD_PX
    assert long.to_dict()["source_iod_px"] == pytest.approx(iod, rel=0.1)
    # the upscaling's interpolation is not read as blur: sharpness as the short clip of that face reads it, within
    # what dlib's eye distance moves it (the crop's scale differs by ~4 % between the two: ~15 % of sharpness;
    # read on the upscaled crops it was 21-23 % under the short clip's at these sizes)
    assert long.quality.sharpness == pytest.approx(short.quality.sharpness, rel=0.2)
    assert interval["reliable"] == short.reliable


def test_a_too_small_face_in_a_long_video_can_be_not_reliable():
    interval, long, short = _interval_and_short_clip(16.0)
    assert 16.0 < RELIABLE_IOD_PX
    assert not interval["reliable"] and "face too small" in interval["reliable_reason"]
    assert interval["inconclusive"] and not short.reliable


def test_an_interval_that_was_only_a_blink_is_called_a_blink():
    track = still_track(40)
    add_event(track, "blink", 14, 6, np.random.default_rng(0), 30.0)
    rendered = render_face(load_identity("hopper"), track, Camera(width=256, height=256, iod_px=60.0))
    series = FaceSeries(0, np.arange(FIRST, FIRST + 40), rendered.landmarks, np.zeros((40, 3)), np.full(40, 60.0),
                        np.ones(40), np.zeros((40, 18, 2)), 6)
    iv = analyse_intervals(enumerate(rendered.frames, start=FIRST), [series],
                           {0: [Interval(112, 116, 122, "micro", 2)]}, 30.0, FIRST + 40, (256, 256))[0][0]
    assert iv["aus"] == [] and iv["spotted_kind"] == "micro" and iv["kind"] == "blink"


def test_an_interval_with_an_expression_au_keeps_the_spotters_kind():
    interval = Interval(10, 14, 20, "micro", 2)
    blink = {"kind": "blink", "onset": 12, "offset": 16, "unsure": ""}
    found = lambda *aus: SimpleNamespace(aus=[SimpleNamespace(au=au) for au in aus])  # noqa: E731
    assert analysed_kind(interval, found("AU4"), [blink]) == "micro"
    assert analysed_kind(interval, found("AU25"), [blink]) == "blink"  # an ordinary AU alone
    assert analysed_kind(interval, found(), [{**blink, "unsure": "a turn"}]) == "micro"  # not stated
    assert analysed_kind(interval, found(), [{**blink, "onset": 30, "offset": 34}]) == "micro"  # elsewhere
