"""Short clips of the realistic world with their truth, and the named fixed-seed clip sets.

A `WorldClipSpec` says who, how long, how filmed, which ordinary motions happen (head moves, speech,
blinks, winks, eye widening) and which expression (or none: a distractor-only clip); the same spec
always renders the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deft.data.world.events import EMOTIONS, EventRanges, add_event, event_length, still_track
from deft.data.world.track import DISTRACTOR_KINDS, Camera, Event, FaceTrack
from deft.errors import ConfigError
from deft.labels import NONE

CLIP_SECONDS = 1.5  # long enough for a micro-expression plus a blink or a few syllables around it
MIN_FRAMES = 10  # room for an event and still frames on both sides
CLIP_RANGES = EventRanges(widen_s=(0.3, 0.6))  # short widenings, so they fit beside a blink in 1.5 s


@dataclass(frozen=True)
class WorldClipSpec:
    """Everything that defines one clip."""

    identity: str = "astronaut"  # a name of identity.IDENTITIES or a photo path
    n_frames: int = 45
    camera: Camera = Camera()
    distractors: tuple[str, ...] = ()  # any of DISTRACTOR_KINDS
    emotion: str | None = "happiness"  # None: a distractor-only clip (no expression)
    kind: str = "micro"  # "micro" | "macro"
    seed: int = 0


@dataclass
class ClipTruth:
    """What happened in a clip; `to_dict()` is what `deft synth` prints."""

    emotion: str  # fine label, "none" for a distractor-only clip
    composite: str  # positive | negative | surprise | none
    aus: dict[str, float]  # the expression's AUs -> apex intensity (IOD)
    side: str  # both | left | right
    phases: tuple[int, int, int] | None  # the expression's onset, apex, offset
    events: list[Event]  # the expression and every distractor
    yaw: np.ndarray = field(repr=False)
    pitch: np.ndarray = field(repr=False)
    roll: np.ndarray = field(repr=False)

    @property
    def distractor_only(self) -> bool:
        return self.phases is None

    def to_dict(self) -> dict:
        onset, apex, offset = self.phases or (None, None, None)
        return {
            "emotion": self.emotion, "composite": self.composite, "aus": self.aus, "side": self.side,
            "phases": {"onset": onset, "apex": apex, "offset": offset}, "distractor_only": self.distractor_only,
            "events": [e.to_dict() for e in self.events],
            "pose": {k: np.round(getattr(self, k), 2).tolist() for k in ("yaw", "pitch", "roll")},
        }


@dataclass
class WorldClip:
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB, filmed (noise, lighting), before compression
    landmarks: np.ndarray = field(repr=False)  # (T, 68, 2) true landmarks, output pixels
    track: FaceTrack = field(repr=False)
    truth: ClipTruth = field(repr=False)
    spec: WorldClipSpec = field(repr=False)


def clip_track(spec: WorldClipSpec, ranges: EventRanges = CLIP_RANGES) -> FaceTrack:
    """The clip's events: the expression first, then distractors anywhere (they may overlap it)."""
    unknown = set(spec.distractors) - set(DISTRACTOR_KINDS)
    if unknown:
        raise ConfigError(f"unknown distractor(s) {sorted(unknown)}; choose from {', '.join(DISTRACTOR_KINDS)}")
    if spec.n_frames < MIN_FRAMES:
        raise ConfigError(f"a clip needs at least {MIN_FRAMES} frames, got {spec.n_frames}")
    rng = np.random.default_rng(spec.seed)
    fps, n = spec.camera.fps, spec.n_frames
    track = still_track(n)
    if "head" in spec.distractors:  # the head never rests: moves back to back over the whole clip
        t = 0
        while t < n - 3:
            length = min(event_length("head", rng, fps, ranges), n - 1 - t)
            add_event(track, "head", t, length, rng, fps, ranges)
            t += length
    if spec.emotion is not None:
        length = min(event_length(spec.kind, rng, fps, ranges), n - 5)
        onset = int(rng.integers(2, n - length - 2))
        add_event(track, spec.kind, onset, length, rng, fps, ranges, spec.emotion)
    for kind, count in (("speech", 1), ("blink", int(rng.integers(1, 3))), ("wink", 1), ("widen", 1)):
        for _ in range(count if kind in spec.distractors else 0):
            _place(track, kind, rng, fps, ranges)
    return track


EYE_KINDS = ("blink", "wink", "widen")  # one eyelid motion at a time: they would contradict each other


def _place(track: FaceTrack, kind: str, rng: np.random.Generator, fps: float, ranges: EventRanges,
           tries: int = 20) -> None:
    """Add a distractor at a random frame; an eyelid event goes where no other eyelid event is (or nowhere)."""
    n = track.n_frames
    length = min(event_length(kind, rng, fps, ranges), n - 3)
    taken = [(e.onset, e.offset) for e in track.events if kind in EYE_KINDS and e.kind in EYE_KINDS]
    for _ in range(tries):
        onset = int(rng.integers(1, n - length - 1))
        if all(onset + length < a or onset > b for a, b in taken):
            add_event(track, kind, onset, length, rng, fps, ranges)
            return


def clip_truth(track: FaceTrack) -> ClipTruth:
    expression = next((e for e in track.events if e.kind in ("micro", "macro")), None)
    if expression is None:
        return ClipTruth(NONE, NONE, {}, "both", None, list(track.events), track.yaw, track.pitch, track.roll)
    aus = {au: round(float(track.aus[(au, expression.side)][expression.apex]), 4) for au in expression.aus}
    return ClipTruth(expression.emotion, expression.composite, aus, expression.side,
                     (expression.onset, expression.apex, expression.offset), list(track.events),
                     track.yaw, track.pitch, track.roll)


def render_clip(spec: WorldClipSpec) -> WorldClip:
    """Render and film the clip a spec describes (compression happens when it is written)."""
    from deft.data.world.camera import film
    from deft.data.world.identity import load_identity
    from deft.data.world.render import render_face

    track = clip_track(spec)
    rendered = render_face(load_identity(spec.identity), track, spec.camera)
    frames = film(rendered.frames, spec.camera, 0, spec.seed)
    return WorldClip(frames, rendered.landmarks, track, clip_truth(track), spec)


def write_clip(clip: WorldClip, path: str, reproducible: bool = False) -> None:
    """The clip as a user would have it: an H.264 mp4 at the spec camera's CRF; `reproducible`: the same bytes every
    run (deft.data.world.camera.X264_REPRODUCIBLE)."""
    from deft.data.world.camera import X264_REPRODUCIBLE, write_mp4

    write_mp4(path, [clip.frames], clip.spec.camera, X264_REPRODUCIBLE if reproducible else "")


# The named sets: what each one adds to a clean, frontal, still, well-lit 256x256 face at 30 fps.
SET_NAMES = ("clean", "pose", "speech", "blinks", "lowres", "compression", "all")
SET_SEEDS = {name: 1900 + i for i, name in enumerate(SET_NAMES)}
DISTRACTOR_ONLY_EVERY = 4  # every 4th clip has no expression: the false-positive probe


def _set_camera(name: str, rng: np.random.Generator) -> Camera:
    if name == "lowres":  # eyes ~20-30 px apart, as in a wide shot or a small video call tile
        return Camera(width=160, height=160, iod_px=round(float(rng.uniform(20, 30)), 1))
    if name == "compression":
        return Camera(crf=int(rng.integers(28, 36)))
    if name == "all":
        fps = float(rng.choice([25.0, 30.0, 60.0]))
        iod = round(float(rng.uniform(22, 90)), 1)
        size = 160 if iod < 35 else 256
        return Camera(width=size, height=size, fps=fps, iod_px=iod, noise=round(float(rng.uniform(1.5, 4.0)), 1),
                      motion_blur=0.5, flicker=0.02, light_drift=round(float(rng.uniform(-0.15, 0.15)), 2),
                      crf=int(rng.integers(23, 36)))
    return Camera()


_SET_DISTRACTORS = {
    "clean": (), "lowres": (), "compression": (), "pose": ("head",), "speech": ("speech",),
    "blinks": ("blink", "wink", "widen"), "all": DISTRACTOR_KINDS,
}


def world_set(name: str, n_clips: int = 40, identities: tuple[str, ...] | None = None,
              seed: int | None = None) -> list[WorldClipSpec]:
    """Specs of a named set: identities and emotions cycled, every 4th clip distractor-only, fixed seeds.

    `seed` replaces the set's own (SET_SEEDS) to draw other clips of the same kind, e.g. a calibration set.
    """
    if name not in SET_NAMES:
        raise ConfigError(f"unknown clip set {name!r}; choose one of {', '.join(SET_NAMES)}")
    if identities is None:
        from deft.data.world.identity import IDENTITIES as identities
    base = SET_SEEDS[name] if seed is None else seed
    rng = np.random.default_rng(base)
    specs, shown = [], 0
    for i in range(n_clips):
        camera = _set_camera(name, rng)
        emotion = None
        if i % DISTRACTOR_ONLY_EVERY != DISTRACTOR_ONLY_EVERY - 1:
            emotion, shown = EMOTIONS[shown % len(EMOTIONS)], shown + 1
        specs.append(WorldClipSpec(
            identity=identities[i % len(identities)], n_frames=int(round(CLIP_SECONDS * camera.fps)),
            camera=camera, distractors=_SET_DISTRACTORS[name], emotion=emotion, seed=base * 1000 + i))
    return specs

