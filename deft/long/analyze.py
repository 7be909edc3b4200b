"""The long-video pipeline: track every face (streamed), spot its intervals, analyse each like a clip."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from deft.analyze import Analysis, AnalyzeConfig
from deft.errors import ConfigError, FaceError
from deft.labels import said_emotion
from deft.long.intervals import analyse_intervals
from deft.long.series import LongAnalysis
from deft.long.spotting import SpotConfig, spot
from deft.long.stream import iter_frames
from deft.long.tracks import LongConfig, track_video


@dataclass(frozen=True)
class LongAnalyzeConfig:
    """Every knob of `deft analyze` on a long video."""

    face: str = "all"  # "all" | "largest" (largest median inter-ocular distance) | a face_id
    tracks: LongConfig = field(default_factory=LongConfig)
    spot: SpotConfig = field(default_factory=SpotConfig)
    clip: AnalyzeConfig = field(default_factory=AnalyzeConfig)  # how each interval is analysed


def select_faces(analysis: LongAnalysis, face: str) -> LongAnalysis:
    """Keep the faces `face` names: all, the largest, or one face_id."""
    if face == "all":
        return analysis
    if face == "largest":
        keep = [max(analysis.faces, key=lambda f: float(np.nanmedian(f.iod)))]
    elif face.isdigit() and int(face) in {f.face_id for f in analysis.faces}:
        keep = [f for f in analysis.faces if f.face_id == int(face)]
    else:
        ids = ", ".join(str(f.face_id) for f in analysis.faces)
        raise ConfigError(f"{analysis.source}: no face {face!r}; its faces are {ids} (or use all, largest)")
    return replace(analysis, faces=keep, intervals={f.face_id: analysis.intervals.get(f.face_id, [])
                                                    for f in keep})


def analyze_long(path: str | os.PathLike, config: LongAnalyzeConfig = LongAnalyzeConfig(),
                 extra: Callable[[Analysis], dict] | None = None) -> LongAnalysis:
    """Faces, their per-frame series and their analysed intervals: one streamed pass to track, and one more
    over the frames around spotted intervals (at source resolution) to analyse them; `extra(analysis)`
    adds keys to each analysed interval (deft explain: the model's explanation)."""
    analysis = track_video(path, config.tracks)
    if not analysis.faces:
        raise FaceError(f"{analysis.source}: no face found in {analysis.n_frames} frames (looked every "
                        f"{config.tracks.detect_every_s:g} s)")
    analysis = select_faces(analysis, config.face)
    spotted = {f.face_id: spot(f, analysis.fps, config.spot) for f in analysis.faces}
    if any(spotted.values()):
        frames = iter_frames(analysis.source, config.tracks.step, config.tracks.limits, source_size=True)
        analysis.intervals = analyse_intervals(frames, analysis.faces, spotted, analysis.fps, analysis.n_frames,
                                               (analysis.width, analysis.height), analysis.source, config.clip,
                                               extra)
    else:
        analysis.intervals = {f.face_id: [] for f in analysis.faces}
    return analysis


@dataclass
class IntervalClip:
    """One spotted interval with the clip analysis behind its dict (None where it could not be analysed):
    what a chat about that interval explains."""

    face_id: int
    interval: dict  # as in LongAnalysis.intervals
    analysis: Analysis | None

    def label(self) -> str:
        iv = self.interval
        emotion = said_emotion(iv.get("emotion"), "label", "not analysed")
        return (f"face {self.face_id}, frames {iv['onset']}-{iv['offset']} ({iv['time_s'][0]:g}-{iv['time_s'][1]:g} s),"
                f" {iv['kind']}, {emotion}")


def analyze_long_clips(path: str | os.PathLike, config: LongAnalyzeConfig = LongAnalyzeConfig()
                       ) -> tuple[LongAnalysis, list[IntervalClip]]:
    """`analyze_long`, keeping every interval's clip analysis; the clips in time order (then face_id)."""
    kept: list[Analysis] = []

    def keep(analysis: Analysis) -> dict:
        kept.append(analysis)
        return {_KEPT: len(kept) - 1}

    result = analyze_long(path, config, keep)
    clips = []
    for fid, intervals in result.intervals.items():
        for iv in intervals:
            at = iv.pop(_KEPT, None)
            clips.append(IntervalClip(fid, iv, None if at is None else kept[at]))
    return result, sorted(clips, key=lambda c: (c.interval["onset"], c.face_id))


_KEPT = "_analysis"  # the key that ties an interval dict to its kept analysis until it is removed
