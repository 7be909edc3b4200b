"""The video with what deft found drawn on it: each face's box and id, its current interval's kind, AUs and
emotion, and a timeline of every face's intervals with the current frame marked. Streamed: read, drawn and
encoded a frame at a time."""

from __future__ import annotations

import os
from fractions import Fraction

import cv2
import numpy as np

from deft.labels import said_emotion
from deft.long.series import FaceSeries, LongAnalysis
from deft.long.stream import iter_frames, probe
from deft.video import VideoLimits

KIND_COLOURS = {"micro": (230, 40, 40), "macro": (250, 160, 30)}  # RGB; other kinds (blink, speech ...) grey-blue
OTHER_COLOUR = (90, 120, 200)
FACE_COLOURS = ((60, 220, 60), (60, 200, 240), (240, 90, 200), (240, 240, 60))
LANE_PX = 6  # height of one face's lane in the timeline


def _row(face: FaceSeries, index: int) -> int | None:
    """The face's row for this source frame: the last analysed frame at or before it (with --step), if tracked."""
    k = int(np.searchsorted(face.frames, index, side="right")) - 1
    if k < 0 or index - face.frames[k] > face.lag or not np.isfinite(face.landmarks[k]).all():
        return None
    return k


def _label(face_id: int, intervals: list[dict], index: int) -> str:
    now = next((iv for iv in intervals if iv["onset"] <= index <= iv["offset"]), None)
    if now is None:
        return f"face {face_id}"
    aus = " ".join(a["au"] for a in now.get("aus", []))
    emotion = said_emotion(now.get("emotion"))
    doubt = "(not reliable)" if now.get("reliable") is False else ""
    return " ".join(filter(None, (f"face {face_id}:", now["kind"], aus, emotion, doubt)))


def _draw(rgb: np.ndarray, analysis: LongAnalysis, index: int, scale: float) -> None:
    h, w = rgb.shape[:2]
    for n, face in enumerate(analysis.faces):
        colour = FACE_COLOURS[n % len(FACE_COLOURS)]
        intervals = analysis.intervals.get(face.face_id, [])
        k = _row(face, index)
        if k is not None:
            (x0, y0), (x1, y1) = face.landmarks[k].min(axis=0) * scale, face.landmarks[k].max(axis=0) * scale
            cv2.rectangle(rgb, (int(x0), int(y0)), (int(x1), int(y1)), colour, 1)
            text = _label(face.face_id, intervals, index)
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
            at = (max(0, int(x0)), max(th + 4, int(y0) - 4))
            cv2.rectangle(rgb, (at[0], at[1] - th - 3), (at[0] + tw + 2, at[1] + 3), (0, 0, 0), -1)
            cv2.putText(rgb, text, (at[0] + 1, at[1]), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)
        top = h - LANE_PX * (len(analysis.faces) - n)
        rgb[top:top + LANE_PX - 1] = (40, 40, 40)
        for iv in intervals:
            a = int(iv["onset"] / max(analysis.n_frames, 1) * w)
            b = max(a + 1, int((iv["offset"] + 1) / max(analysis.n_frames, 1) * w))
            rgb[top:top + LANE_PX - 1, a:b] = KIND_COLOURS.get(iv["kind"], OTHER_COLOUR)
        rgb[top:top + LANE_PX - 1, :3] = colour
    x = int(index / max(analysis.n_frames, 1) * w)
    rgb[h - LANE_PX * len(analysis.faces):, x:x + 1] = 255


def write_overlay(analysis: LongAnalysis, path: str | os.PathLike, limits: VideoLimits = VideoLimits(),
                  crf: int = 23) -> int:
    """Write the annotated video (H.264, the work size, every source frame); returns the frames written."""
    import av

    info = probe(analysis.source, limits)
    w, h = (s - s % 2 for s in info.work_size)  # H.264 needs even sizes
    scale = info.work_size[0] / analysis.width
    written = 0
    with av.open(os.fspath(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(analysis.fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for index, frame in iter_frames(analysis.source, 1, limits):
            rgb = np.ascontiguousarray(frame[:h, :w])
            _draw(rgb, analysis, index, scale)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
            written += 1
        for packet in stream.encode():
            container.mux(packet)
    return written
