"""Event truth is where the generator says: AU tracks move exactly inside their intervals, blinks last
100-400 ms and close fully, speech opens the jaw at 3-6 Hz, head moves stay smooth and in range."""

import numpy as np
import pytest

from deft.data.world.events import EMOTIONS, EventRanges, add_event, event_length, schedule, still_track
from deft.data.world.track import EVENT_KINDS

FPS_CHOICES = (25.0, 30.0, 60.0)


def one_event(kind, seed, fps=30.0, n=400, emotion=""):
    rng = np.random.default_rng(seed)
    track = still_track(n)
    length = event_length(kind, rng, fps)
    event = add_event(track, kind, 20, length, rng, fps, emotion=emotion)
    return track, event


@pytest.mark.parametrize("kind", ["micro", "macro", "blink", "wink", "widen"])
@pytest.mark.parametrize("seed", range(5))
def test_au_tracks_move_exactly_inside_the_interval(kind, seed):
    track, event = one_event(kind, seed)
    assert track.aus and event.aus
    for (au, side), values in track.aus.items():
        assert au in event.aus and side == event.side
        moving = np.flatnonzero(values > 0)
        # the onset-apex-offset profile is 0 at onset and offset and positive strictly between
        assert moving.tolist() == list(range(event.onset + 1, event.offset))
        assert np.argmax(values) == event.apex


@pytest.mark.parametrize("seed", range(5))
def test_speech_moves_only_inside_its_phrase(seed):
    track, event = one_event("speech", seed)
    assert set(track.aus) == {("AU25", "both"), ("AU26", "both")}
    for values in track.aus.values():
        moving = np.flatnonzero(values > 0)
        assert moving.min() > event.onset and moving.max() < event.offset
        assert (values[event.onset:event.offset + 1] > 0).mean() > 0.5  # talking, not one twitch


@pytest.mark.parametrize("fps", FPS_CHOICES)
def test_blinks_last_100_to_400_ms_and_close_fully(fps):
    for seed in range(20):
        track, event = one_event("blink", seed, fps)
        assert 0.1 <= (event.offset - event.onset) / fps <= 0.4
        assert track.aus[("AU45", "both")][event.apex] == pytest.approx(1.0)
        assert event.onset < event.apex < event.offset and event.apex - event.onset <= event.offset - event.apex


def test_winks_close_one_eye_only():
    sides = set()
    for seed in range(10):
        track, event = one_event("wink", seed)
        assert list(track.aus) == [("AU46", event.side)] and event.side in ("left", "right")
        assert track.aus[("AU46", event.side)].max() == pytest.approx(1.0)
        sides.add(event.side)
    assert sides == {"left", "right"}


@pytest.mark.parametrize("fps", FPS_CHOICES)
def test_speech_jaw_cycles_at_3_to_6_hz(fps):
    for seed in range(8):
        track, event = one_event("speech", seed, fps, n=int(4 * fps))
        jaw = track.aus[("AU26", "both")][event.onset:event.offset + 1]
        jaw = np.pad(jaw - jaw.mean(), (0, 8 * len(jaw)))  # zero-padded: a fine frequency grid
        freqs = np.fft.rfftfreq(len(jaw), 1 / fps)
        power = np.abs(np.fft.rfft(jaw))
        band = freqs > 1.0  # above the phrase envelope
        peak = freqs[band][np.argmax(power[band])]
        half_bin = fps / (event.offset - event.onset) / 2  # the phrase's own frequency resolution
        assert 3.0 - half_bin <= peak <= 6.0 + half_bin, (seed, peak)


@pytest.mark.parametrize("kind", ["micro", "macro"])
def test_expressions_follow_their_recipe_duration_and_amplitude(kind):
    ranges = EventRanges()
    (lo_s, hi_s), (lo_a, hi_a) = (ranges.micro_s, ranges.micro_iod) if kind == "micro" else (ranges.macro_s, ranges.macro_iod)
    for seed, emotion in enumerate(EMOTIONS):
        track, event = one_event(kind, seed, emotion=emotion)
        assert event.emotion == emotion and event.composite in ("positive", "negative", "surprise")
        assert lo_s <= (event.offset - event.onset) / 30.0 <= hi_s
        peaks = [v.max() for v in track.aus.values()]
        assert all(lo_a - 1e-9 <= p <= hi_a + 1e-9 for p in peaks)
        assert (event.side != "both") == (emotion == "contempt")


def test_head_moves_are_smooth_and_in_range():
    ranges = EventRanges()
    rng = np.random.default_rng(3)
    track = still_track(900)
    t = 0
    while t < 850:
        length = event_length("head", rng, 30.0)
        add_event(track, "head", t, length, rng, 30.0)
        t += length
    for name, limit in (("yaw", ranges.yaw_deg), ("pitch", ranges.pitch_deg), ("roll", ranges.roll_deg)):
        series = getattr(track, name)
        assert np.abs(series).max() <= limit and np.ptp(series) > limit / 2  # it really turns
        assert np.abs(np.diff(series)).max() < 2 * limit / (ranges.head_s[0] * 30) * 1.6  # no jumps
    assert ranges.scale[0] <= track.scale.min() and track.scale.max() <= ranges.scale[1]
    assert np.abs(track.centre - track.centre[0]).max() <= ranges.shift + 1e-9


@pytest.mark.parametrize("seed", range(4))
def test_a_schedule_never_overlaps_and_uses_every_kind(seed):
    track = schedule(int(600 * 30), 30.0, np.random.default_rng(seed))
    events = sorted(track.events, key=lambda e: e.onset)
    assert all(a.offset < b.onset for a, b in zip(events, events[1:]))
    assert {e.kind for e in events} == set(EVENT_KINDS)
    blinks = sum(e.kind == "blink" for e in events) / 10
    assert 5 <= blinks <= 20  # per minute, near the rate asked for


def test_the_same_seed_gives_the_same_schedule():
    a, b = (schedule(1800, 30.0, np.random.default_rng(7)) for _ in range(2))
    assert a.events == b.events and all(np.array_equal(a.aus[k], b.aus[k]) for k in a.aus)
