"""Events on one face with their own truth: expressions, blinks, winks, eye widening, speech, head moves.

`add_event` writes one event's AU intensity tracks (track.py's units) and pose change onto a FaceTrack
and returns its Event; `schedule` fills a whole track with events whose intervals never overlap (long
videos). Every draw comes from the caller's seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deft.data.synthetic import profile
from deft.data.world.track import EVENT_KINDS, Event, FaceTrack
from deft.errors import ConfigError
from deft.labels import NONE, RECIPES, UNILATERAL, composite_of

EMOTIONS = tuple(e for e in RECIPES if e != NONE)  # what an expression event can show


@dataclass(frozen=True)
class EventRanges:
    """Duration (s), amplitude (IOD, or closure fraction for eyelids) and pose ranges of every event kind."""

    micro_s: tuple[float, float] = (0.2, 0.5)  # micro-expressions last <= 0.5 s (Yan et al. 2013, CASME II)
    micro_iod: tuple[float, float] = (0.015, 0.05)  # ~1-3 px at a 61 px inter-ocular distance
    macro_s: tuple[float, float] = (0.5, 4.0)
    macro_iod: tuple[float, float] = (0.05, 0.15)
    blink_s: tuple[float, float] = (0.1, 0.4)  # spontaneous blinks, closing faster than opening
    wink_s: tuple[float, float] = (0.2, 0.4)
    widen_s: tuple[float, float] = (0.4, 1.5)
    widen_iod: tuple[float, float] = (0.02, 0.05)  # AU5 upper-lid raise
    phrase_s: tuple[float, float] = (0.8, 3.0)  # one burst of words
    syllable_hz: tuple[float, float] = (3.0, 6.0)  # speech jaw cycles (syllable rate)
    jaw_iod: tuple[float, float] = (0.04, 0.12)  # AU26 jaw drop at a syllable's peak
    lips_iod: tuple[float, float] = (0.02, 0.05)  # AU25 lips part at a syllable's peak
    head_s: tuple[float, float] = (0.6, 2.0)  # one smooth head move
    yaw_deg: float = 25.0
    pitch_deg: float = 15.0
    roll_deg: float = 20.0
    shift: float = 0.06  # centre moves up to this share of the frame per axis
    scale: tuple[float, float] = (0.85, 1.25)  # walking closer / away


def still_track(n_frames: int, centre: tuple[float, float] = (0.5, 0.42), scale: float = 1.0) -> FaceTrack:
    """A frontal face that does nothing: the canvas events are written on."""
    zeros = np.zeros(n_frames)
    return FaceTrack(zeros.copy(), zeros.copy(), zeros.copy(), np.full(n_frames, float(scale)),
                     np.tile(np.asarray(centre, np.float64), (n_frames, 1)))


def event_length(kind: str, rng: np.random.Generator, fps: float, ranges: EventRanges = EventRanges()) -> int:
    """Frames from onset to offset for a new event of this kind (a speech phrase sets its own)."""
    seconds = {"micro": ranges.micro_s, "macro": ranges.macro_s, "blink": ranges.blink_s, "wink": ranges.wink_s,
               "widen": ranges.widen_s, "speech": ranges.phrase_s, "head": ranges.head_s}
    if kind not in seconds:
        raise ConfigError(f"unknown event kind {kind!r}; choose one of {', '.join(EVENT_KINDS)}")
    lo, hi = seconds[kind]
    # whole frames inside the range, so the truth duration never leaves it; >= 2 keeps apex strictly inside
    first, last = max(2, int(np.ceil(lo * fps - 1e-9))), max(2, int(np.floor(hi * fps + 1e-9)))
    return int(rng.integers(first, max(first, last) + 1))


def add_event(track: FaceTrack, kind: str, onset: int, length: int, rng: np.random.Generator, fps: float,
              ranges: EventRanges = EventRanges(), emotion: str = "") -> Event:
    """Write one event spanning frames onset..onset+length onto `track`; returns its truth."""
    offset = onset + length
    if onset < 0 or length < 2 or offset >= track.n_frames:
        raise ConfigError(f"a {kind} event at frames {onset}..{offset} does not fit a {track.n_frames}-frame track")
    if kind in ("micro", "macro"):
        event = _expression(track, kind, onset, offset, rng, ranges, emotion)
    elif kind in ("blink", "wink"):
        event = _eyelids(track, kind, onset, offset, rng)
    elif kind == "widen":
        event = _write(track, Event("widen", onset, (onset + offset) // 2, offset, ("AU5",)),
                       {"AU5": float(rng.uniform(*ranges.widen_iod))})
    elif kind == "speech":
        event = _speech(track, onset, offset, rng, fps, ranges)
    elif kind == "head":
        event = _head(track, onset, offset, rng, ranges)
    else:
        raise ConfigError(f"unknown event kind {kind!r}; choose one of {', '.join(EVENT_KINDS)}")
    track.events.append(event)
    return event


def _write(track: FaceTrack, event: Event, amplitudes: dict[str, float]) -> Event:
    """Add amplitude x onset-apex-offset profile to each AU's track on the event's side."""
    shape = profile(track.n_frames, event.onset, event.apex, event.offset)
    for au, amplitude in amplitudes.items():
        key = (au, event.side)
        track.aus[key] = track.aus.get(key, np.zeros(track.n_frames)) + amplitude * shape
    return event


def _expression(track: FaceTrack, kind: str, onset: int, offset: int, rng: np.random.Generator,
                ranges: EventRanges, emotion: str) -> Event:
    emotion = emotion or str(rng.choice(EMOTIONS))
    if emotion not in EMOTIONS:
        raise ConfigError(f"unknown emotion {emotion!r}; choose one of {', '.join(EMOTIONS)}")
    sets = RECIPES[emotion]
    aus = sets[int(rng.integers(len(sets)))]
    side = str(rng.choice(["left", "right"])) if emotion in UNILATERAL else "both"
    # apex a third to two thirds of the way in: onset phases of spontaneous expressions vary that much
    apex = onset + int(np.clip(round((offset - onset) * rng.uniform(0.33, 0.66)), 1, offset - onset - 1))
    lo, hi = ranges.micro_iod if kind == "micro" else ranges.macro_iod
    amplitudes = {au: round(float(rng.uniform(lo, hi)), 4) for au in aus}
    return _write(track, Event(kind, onset, apex, offset, tuple(aus), side, emotion, composite_of(emotion)), amplitudes)


def _eyelids(track: FaceTrack, kind: str, onset: int, offset: int, rng: np.random.Generator) -> Event:
    """A full closure (1.0): the lid closes in about a third of the blink and reopens more slowly."""
    apex = onset + int(np.clip(round((offset - onset) * 0.35), 1, offset - onset - 1))
    au, side = ("AU45", "both") if kind == "blink" else ("AU46", str(rng.choice(["left", "right"])))
    event = _write(track, Event(kind, onset, apex, offset, (au,), side), {au: 1.0})
    track.aus[(au, side)] = np.minimum(track.aus[(au, side)], 1.0)  # closure is a fraction
    return event


def _speech(track: FaceTrack, onset: int, offset: int, rng: np.random.Generator, fps: float,
            ranges: EventRanges) -> Event:
    """A phrase: the jaw (AU26) and lips (AU25) open once per syllable at 3-6 Hz, wider on stressed
    syllables; it starts and ends on a closed mouth (pauses are the gaps between phrases)."""
    length = offset - onset
    lo, hi = (length * hz / fps for hz in ranges.syllable_hz)  # syllables that fit the phrase at 3 and 6 Hz
    n_syllables = max(1, int(np.clip(round(length * rng.uniform(*ranges.syllable_hz) / fps), np.ceil(lo), np.floor(hi))))
    rate = n_syllables * fps / length  # a whole number of cycles in the phrase: closed at both ends
    levels = rng.uniform(0.6, 1.0, n_syllables)  # stressed and unstressed syllables
    phase = (np.arange(length + 1)) * rate / fps  # cycles since onset
    opening = (0.5 - 0.5 * np.cos(2 * np.pi * phase)) * levels[np.minimum(phase.astype(int), n_syllables - 1)]
    apex = onset + int(np.argmax(opening))
    jaw, lips = float(rng.uniform(*ranges.jaw_iod)), float(rng.uniform(*ranges.lips_iod))
    for au, amplitude in (("AU26", jaw), ("AU25", lips)):
        key = (au, "both")
        track.aus.setdefault(key, np.zeros(track.n_frames))[onset:offset + 1] += amplitude * opening
    return Event("speech", onset, apex, offset, ("AU25", "AU26"))


def _head(track: FaceTrack, onset: int, offset: int, rng: np.random.Generator, ranges: EventRanges) -> Event:
    """One smooth move (raised-cosine ease, zero speed at both ends) to a new random pose, held after it."""
    target = {
        "yaw": rng.uniform(-ranges.yaw_deg, ranges.yaw_deg), "pitch": rng.uniform(-ranges.pitch_deg, ranges.pitch_deg),
        "roll": rng.uniform(-ranges.roll_deg, ranges.roll_deg), "scale": rng.uniform(*ranges.scale),
    }
    ease = 0.5 - 0.5 * np.cos(np.pi * np.arange(offset - onset + 1) / (offset - onset))
    for name, value in target.items():
        series = getattr(track, name)
        start = series[onset]
        series[onset:offset + 1] = start + (value - start) * ease
        series[offset + 1:] = value
    goal = track.centre[0] + rng.uniform(-ranges.shift, ranges.shift, 2)  # near where the face started
    start = track.centre[onset].copy()
    track.centre[onset:offset + 1] = start + (goal - start) * ease[:, None]
    track.centre[offset + 1:] = goal
    return Event("head", onset, (onset + offset) // 2, offset)


# Events per minute in a long video (one talking person on camera): blinks ~15/min (Bentivoglio et al. 1997
# report 17/min at rest, fewer while talking); the rest are this generator's choice.
RATES_PER_MIN: dict[str, float] = {
    "blink": 12.0, "speech": 8.0, "head": 5.0, "micro": 3.0, "macro": 2.0, "widen": 1.0, "wink": 0.5,
}


def schedule(n_frames: int, fps: float, rng: np.random.Generator, rates: dict[str, float] | None = None,
             ranges: EventRanges = EventRanges(), gap_s: tuple[float, float] = (0.3, 2.0),
             centre: tuple[float, float] = (0.5, 0.42)) -> FaceTrack:
    """A whole track of events, one after another with a pause between: truth intervals never overlap."""
    rates = RATES_PER_MIN if rates is None else rates
    kinds = [k for k, r in rates.items() if r > 0]
    weights = np.array([rates[k] for k in kinds], np.float64)
    track = still_track(n_frames, centre)
    t = int(rng.integers(0, max(1, int(gap_s[1] * fps))))
    while True:
        kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
        length = event_length(kind, rng, fps, ranges)
        if t + length >= n_frames:
            break
        add_event(track, kind, t, length, rng, fps, ranges)
        t += length + max(1, int(round(rng.uniform(*gap_s) * fps)))
    return track
