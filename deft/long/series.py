"""The contract of the long-video path: one face's per-frame series and the analysis of a whole video.

The tracks side (deft.long.tracks) fills `FaceSeries`; spotting (deft.long.spotting) reads it and fills
`LongAnalysis.intervals`. Frame indices are those of the source video, whatever the decoding step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class FaceSeries:
    """One tracked face over the frames where it was followed."""

    face_id: int
    frames: np.ndarray  # (n,) source-video frame indices where this face was tracked, ascending
    landmarks: np.ndarray  # (n, 68, 2) smoothed landmarks, source px; NaN rows where lost
    pose: np.ndarray  # (n, 3) yaw, pitch, roll degrees (deft.tracking conventions); NaN where lost
    iod: np.ndarray  # (n,) inter-ocular distance, source px; NaN where lost
    quality: np.ndarray  # (n,) per-frame tracking quality 0..1 (0 where lost)
    # (n, R, 2) per-region motion (dx, dy) in IOD of frame t against frame t - lag, head motion removed;
    # R = len(deft.motion.regions.REGION_NAMES); NaN where either frame is lost or t - lag is not tracked
    motion: np.ndarray
    lag: int  # frames (source frames) between the compared frames

    @property
    def first(self) -> int:
        return int(self.frames[0]) if len(self.frames) else -1

    @property
    def last(self) -> int:
        return int(self.frames[-1]) if len(self.frames) else -1


@dataclass
class LongAnalysis:
    """Every face of one long video; `intervals` maps face_id to its analysed intervals ([] until spotted)."""

    source: str
    fps: float
    n_frames: int
    width: int
    height: int
    faces: list[FaceSeries]
    intervals: dict[int, list[dict]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The `deft analyze LONG.mp4 --json` object (issue 12): faces with their frame span and intervals."""
        return {"source": self.source, "fps": self.fps, "n_frames": self.n_frames,
                "faces": [{"face_id": f.face_id, "frames": [f.first, f.last],
                           "intervals": self.intervals.get(f.face_id, [])} for f in self.faces],
                "warnings": list(self.warnings)}
