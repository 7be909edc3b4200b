"""The contract between the event scheduler and the renderer: what one face does on every frame."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Event kinds with their own truth. "micro" and "macro" are expressions (they carry an emotion);
# the rest are ordinary face motion that must not be read as one.
EXPRESSION_KINDS = ("micro", "macro")
DISTRACTOR_KINDS = ("blink", "wink", "speech", "widen", "head")
EVENT_KINDS = EXPRESSION_KINDS + DISTRACTOR_KINDS

# AU intensity units on a FaceTrack (all relative to the face, so any resolution renders the same):
# - eyelid closure AUs (AU43 eyes closed, AU45 blink, AU46 wink): closure fraction 0..1 of the eye aperture;
# - every other AU: peak displacement of its muscle's region, in inter-ocular distances (IOD).
CLOSURE_AUS = ("AU43", "AU45", "AU46")


@dataclass(frozen=True)
class Event:
    """One interval of known truth on one face. Frames are indices of the rendered video."""

    kind: str  # one of EVENT_KINDS
    onset: int
    apex: int
    offset: int  # inclusive
    aus: tuple[str, ...] = ()  # AUs this event moves
    side: str = "both"  # "both" | "left" | "right" (the subject's sides)
    emotion: str = ""  # fine label for micro/macro ("" for distractors)
    composite: str = ""  # positive | negative | surprise for micro/macro

    def to_dict(self) -> dict:
        return {"kind": self.kind, "onset": self.onset, "apex": self.apex, "offset": self.offset,
                "aus": list(self.aus), "side": self.side, "emotion": self.emotion, "composite": self.composite}


@dataclass
class FaceTrack:
    """Per-frame state of one rendered face; T frames. Angles in degrees, in the subject's frame:
    yaw > 0 turns the face towards the image right, pitch > 0 tilts the chin down, roll > 0 turns
    the face clockwise in the image."""

    yaw: np.ndarray  # (T,)
    pitch: np.ndarray  # (T,)
    roll: np.ndarray  # (T,)
    scale: np.ndarray  # (T,) multiplier of the identity's base IOD in the output frame
    centre: np.ndarray  # (T, 2) face centre (between the eyes) in the output frame, fractions of (W, H)
    aus: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # (AU, side) -> (T,) intensity
    events: list[Event] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return len(self.yaw)

    def au_intensity(self, au: str) -> np.ndarray:
        """(T,) largest intensity of an AU over its sides (zeros where it never moves)."""
        rows = [v for (a, _), v in self.aus.items() if a == au]
        return np.max(rows, axis=0) if rows else np.zeros(self.n_frames)


@dataclass(frozen=True)
class Camera:
    """How the scene is filmed."""

    width: int = 256
    height: int = 256
    fps: float = 30.0
    iod_px: float = 61.0  # inter-ocular distance of a frontal face at scale 1.0, output pixels
    noise: float = 1.5  # sensor noise sigma, grey levels
    motion_blur: float = 0.0  # blur length as a share of the frame-to-frame motion (0 = none)
    flicker: float = 0.0  # relative amplitude of lighting flicker (mains-like)
    light_drift: float = 0.0  # relative brightness change of the slow lighting change at its peak
    light_period: float = 20.0  # seconds of one slow lighting change (a raised cosine, up and back down)
    crf: int | None = None  # H.264 constant rate factor when written; None = lossless frames
