"""Each spotted interval analysed like a clip: that face's frames around it, phases given, AUs and emotion.

One pass over the frames (any iterator of (source index, RGB frame), e.g. a streaming decoder): an
interval's frames are cut to its face's box as they go by and analysed as soon as its offset has passed,
so only the open intervals' crops are ever held.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from deft.analyze import Analysis, AnalyzeConfig, analyze_frames
from deft.encoder import x264_rate_factor
from deft.errors import DeftError, FaceError, VideoError
from deft.labels import ORDINARY_AUS
from deft.long.series import FaceSeries
from deft.long.spotting import Interval
from deft.video import Video

PAD_FRAMES = 3  # frames kept before the onset and after the offset (the flow needs a settled start)
BOX_MARGIN = 0.6  # the crop reaches this share of the face's landmark box beyond it on every side
# small faces are upscaled to about this inter-ocular distance (HOG finds faces >= 80 px); the clip analysis is
# told (Video.upscale), so face size, blur and everything read from them are the source face's
MIN_IOD_PX = 60.0


@dataclass
class _Open:
    face_id: int
    interval: Interval
    first: int
    last: int
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in source px
    scale: float
    frames: list[np.ndarray]
    indices: list[int]
    native: list[np.ndarray]  # the crops before upscaling (with scale > 1)


def face_box(series: FaceSeries, first: int, last: int, size: tuple[int, int]) -> tuple[tuple[int, int, int, int], float]:
    """The crop box (source px, inside the frame) holding this face over frames first..last, and its upscale."""
    rows = (series.frames >= first) & (series.frames <= last)
    lm = series.landmarks[rows].reshape(-1, 2)
    lm = lm[np.isfinite(lm).all(axis=1)]
    if not len(lm):
        raise FaceError(f"face {series.face_id} was not tracked in frames {first}-{last}")
    (x0, y0), (x1, y1) = lm.min(axis=0), lm.max(axis=0)
    mx, my = BOX_MARGIN * (x1 - x0), BOX_MARGIN * (y1 - y0)
    w, h = size
    box = (max(0, int(x0 - mx)), max(0, int(y0 - my * 1.3)), min(w, int(x1 + mx) + 1), min(h, int(y1 + my) + 1))
    iod = float(np.nanmedian(series.iod[rows])) if np.isfinite(series.iod[rows]).any() else MIN_IOD_PX
    return box, max(1.0, MIN_IOD_PX / max(iod, 1.0))


_FRAMES = re.compile(r"\b(frames?) (\d+)(?:-(\d+))?\b")  # "frame 3", "frames 0-1" in a clip's warnings


def _source(indices: list[int], k: int) -> int:
    """The video's frame of the interval clip's frame k (k itself past the clip's frames)."""
    return indices[k] if k < len(indices) else k


def in_source_frames(text: str, indices: list[int]) -> str:
    """A clip warning with its frame numbers (the interval clip's, counted from 0) as the source video's."""
    at = lambda k: str(_source(indices, int(k)))  # noqa: E731
    return _FRAMES.sub(lambda m: f"{m[1]} {at(m[2])}" + (f"-{at(m[3])}" if m[3] else ""), text)


def ordinary_events(analysis: Analysis) -> list[dict]:
    """The clip's ordinary motion (blinks, winks, speech, ...; `unsure` where not stated), in source frames."""
    if analysis.ordinary is None:
        return []
    idx = analysis.frame_indices
    return [{**e.to_dict(), **{k: _source(idx, getattr(e, k)) for k in ("onset", "apex", "offset")}}
            for e in analysis.ordinary.events]


def analysed_kind(interval: Interval, analysis: Analysis, events: list[dict]) -> str:
    """The spotter's kind, or the ordinary motion that was all the clip analysis found there (a spotted "micro"
    that was a blink): no expression AU fired and a stated event (not `unsure`) overlaps the interval."""
    if any(a.au not in ORDINARY_AUS for a in analysis.aus):
        return interval.kind
    overlap = lambda e: min(e["offset"], interval.offset) - max(e["onset"], interval.onset)  # noqa: E731
    stated = [e for e in events if not e["unsure"] and overlap(e) >= 0]
    return max(stated, key=overlap)["kind"] if stated else interval.kind


def interval_dict(interval: Interval, fps: float, analysis: Analysis | None = None, error: str | None = None) -> dict:
    """The issue's interval object: frames, times, kind, then the clip analysis's AUs, emotion, ordinary motion,
    whether it can be trusted (`reliable`, `inconclusive`) and its warnings, frames the source video's; `kind`
    becomes the ordinary motion the analysis found where it found nothing else (`spotted_kind`: the spotter's)."""
    d = {**interval.to_dict(), "time_s": [round(interval.onset / fps, 3), round(interval.offset / fps, 3)]}
    if analysis is not None:
        events = ordinary_events(analysis)
        d.update(kind=analysed_kind(interval, analysis, events), spotted_kind=interval.kind,
                 aus=[a.to_dict() for a in analysis.aus], emotion=analysis.emotion.to_dict(),
                 ordinary=events, reliable=analysis.reliable,
                 reliable_reason=analysis.reliable_reason,
                 **(analysis.sensitivity.to_dict() if analysis.sensitivity is not None else {}),
                 warnings=analysis.warnings)
    if error is not None:
        d["error"] = error
    return d


def _analyse(clip: _Open, fps: float, source: str, config: AnalyzeConfig,
             extra: Callable[[Analysis], dict] | None, crf: float | None = None) -> dict:
    iv, idx = clip.interval, clip.indices
    try:
        if len(idx) < 3:
            raise VideoError(f"only {len(idx)} frames decoded around frames {iv.onset}-{iv.offset}")
        at = {f: i for i, f in enumerate(idx)}
        onset = at.get(iv.onset, 0)
        apex = min(max(at.get(iv.apex, onset + 1), onset + 1), len(idx) - 1)
        offset = max(at.get(iv.offset, len(idx) - 1), apex)
        frames = np.stack(clip.frames)
        video = Video(frames, fps, f"{source}#face{clip.face_id}:{iv.onset}-{iv.offset}", "long",
                      (frames.shape[2], frames.shape[1]), list(idx), upscale=clip.scale,
                      native=np.stack(clip.native) if clip.native else None, crf=crf)
        analysis = analyze_frames(video, config, (onset, apex, offset))
        # the JSON, the explanation and the demo read these beside the interval's source frames
        analysis.warnings = [in_source_frames(w, analysis.frame_indices) for w in analysis.warnings]
        return {**interval_dict(iv, fps, analysis), **(extra(analysis) if extra else {})}
    except DeftError as err:
        return interval_dict(iv, fps, error=str(err))


def _keep(frame: np.ndarray, clip: _Open) -> None:
    x0, y0, x1, y1 = clip.box
    crop = frame[y0:y1, x0:x1].copy()  # the frame's buffer may be reused for the next frame
    if clip.scale > 1.0:
        clip.native.append(crop)
        crop = cv2.resize(crop, None, fx=clip.scale, fy=clip.scale, interpolation=cv2.INTER_CUBIC)
    clip.frames.append(crop)


def iter_intervals(frames: Iterable[tuple[int, np.ndarray]], faces: list[FaceSeries],
                   intervals: dict[int, list[Interval]], fps: float, n_frames: int, size: tuple[int, int],
                   source: str = "video", config: AnalyzeConfig = AnalyzeConfig(),
                   extra: Callable[[Analysis], dict] | None = None) -> Iterator[tuple[int, int, dict]]:
    """(face_id, k, interval dict) for `intervals[face_id][k]`, each as soon as its frames have gone by.

    `frames` yields (source index, RGB frame of `size` (width, height)) in order (a frame may be reused
    once the next is drawn: what is kept is copied); `n_frames` bounds the
    padding; `extra(analysis)` adds keys to an analysed interval (e.g. the model's explanation).
    """
    by_id = {s.face_id: s for s in faces}
    crf = x264_rate_factor(source)  # the source file's, where `source` is one that states it
    pending = sorted(((max(0, iv.onset - PAD_FRAMES), fid, k, iv) for fid, ivs in intervals.items()
                      for k, iv in enumerate(ivs)), key=lambda p: (p[0], p[1], p[2]))
    open_: list[tuple[int, _Open]] = []
    for index, frame in frames:
        while pending and pending[0][0] <= index:
            first, fid, k, iv = pending.pop(0)
            try:
                box, scale = face_box(by_id[fid], first, min(n_frames - 1, iv.offset + PAD_FRAMES), size)
            except FaceError as err:
                yield fid, k, interval_dict(iv, fps, error=str(err))
                continue
            open_.append((k, _Open(fid, iv, first, min(n_frames - 1, iv.offset + PAD_FRAMES), box, scale, [], [], [])))
        for _, clip in open_:
            _keep(frame, clip)
            clip.indices.append(index)
        for k, clip in [c for c in open_ if c[1].last <= index]:
            yield clip.face_id, k, _analyse(clip, fps, source, config, extra, crf)
        open_ = [c for c in open_ if c[1].last > index]
        if not pending and not open_:
            return
    for k, clip in open_:  # the video ended early
        yield clip.face_id, k, _analyse(clip, fps, source, config, extra, crf)


def analyse_intervals(frames: Iterable[tuple[int, np.ndarray]], faces: list[FaceSeries],
                      intervals: dict[int, list[Interval]], fps: float, n_frames: int, size: tuple[int, int],
                      source: str = "video", config: AnalyzeConfig = AnalyzeConfig(),
                      extra: Callable[[Analysis], dict] | None = None) -> dict[int, list[dict]]:
    """face_id -> its intervals as dicts, in the order given (see `iter_intervals`)."""
    done: dict[int, dict[int, dict]] = {fid: {} for fid in intervals}
    for fid, k, d in iter_intervals(frames, faces, intervals, fps, n_frames, size, source, config, extra):
        done[fid][k] = d
    return {fid: [got[k] for k in sorted(got)] for fid, got in done.items()}
