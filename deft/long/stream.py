"""Decode a long video in chunks through deft.video.open_media: never the whole video in memory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deft.errors import VideoError, VideoLimitError
from deft.video import VideoLimits, _reason, _target_size, open_media, rgb_converter

DEFAULT_FPS = 30.0  # assumed when a video reports no frame rate


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video before decoding it."""

    source: str
    fps: float
    n_frames: int  # as the container reports it (0 when it does not say); counted while streaming otherwise
    width: int  # source frame size
    height: int
    work_size: tuple[int, int]  # (width, height) the frames are decoded to (longest side <= limits.work_side)


@dataclass
class Chunk:
    """Consecutive decoded frames: their source-video indices and RGB pixels at the work size."""

    indices: np.ndarray  # (k,) int
    frames: np.ndarray  # (k, H, W, 3) uint8 RGB


def _check_file(source: str, limits: VideoLimits) -> None:
    p = Path(source)
    if not p.exists():
        raise VideoError(f"{source}: no such file")
    if not p.is_file():
        raise VideoError(f"{source}: not a regular video file (long videos are read from files, not folders)")
    size = p.stat().st_size
    if size == 0:
        raise VideoError(f"{source}: the file is empty")
    if size > limits.max_bytes:
        raise VideoLimitError(f"{source}: {size / 2**20:.0f} MiB, above the {limits.max_bytes / 2**20:.0f} MiB "
                              "limit; trim or re-encode the video")


def probe(path: str | os.PathLike, limits: VideoLimits = VideoLimits()) -> VideoInfo:
    """Frame rate, frame count and size of a video file, without decoding it."""
    source = os.fspath(path)
    _check_file(source, limits)
    with open_media(source) as container:
        if not container.streams.video:
            raise VideoError(f"{source}: the file holds no video stream")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0.0) or DEFAULT_FPS
        w, h = stream.codec_context.width, stream.codec_context.height
        return VideoInfo(source, fps, int(stream.frames or 0), w, h, _target_size(w, h, limits, source))


def stream_frames(path: str | os.PathLike, chunk: int = 64, step: int = 1,
                  limits: VideoLimits = VideoLimits(), source_size: bool = False) -> Iterator[Chunk]:
    """Every `step`-th frame of a video file, `chunk` frames at a time, downscaled to the work size.
    The frame-count cap of short clips does not apply; the file-size and resolution caps do. A chunk's
    pixels are overwritten by the next chunk: copy what must outlive it. `source_size` keeps the source's
    resolution (up to limits.max_side: use small chunks)."""
    import av

    info = probe(path, limits)
    w, h = (info.width, info.height) if source_size else info.work_size
    buffer = np.empty((chunk, h, w, 3), np.uint8)  # one chunk's pixels, refilled: no allocation per frame
    indices: list[int] = []
    with open_media(info.source) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads: decoding overlaps the analysis
        to_rgb = rgb_converter(w, h)
        try:
            for i, frame in enumerate(container.decode(stream)):
                if i % max(1, step):
                    continue
                buffer[len(indices)] = to_rgb(frame)
                indices.append(i)
                if len(indices) == chunk:
                    yield Chunk(np.asarray(indices), buffer)
                    indices = []
        except av.error.FFmpegError as err:
            raise VideoError(f"{info.source}: not a readable video ({_reason(err)})") from err
    if indices:
        yield Chunk(np.asarray(indices), buffer[:len(indices)])


def iter_frames(path: str | os.PathLike, step: int = 1, limits: VideoLimits = VideoLimits(),
                source_size: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """(source index, RGB frame) one at a time; each frame is valid until the next is drawn."""
    for chunk in stream_frames(path, 8, step, limits, source_size):
        yield from zip(chunk.indices.tolist(), chunk.frames)


def longer_than_clip(path: str | os.PathLike, limits: VideoLimits = VideoLimits(), step: int = 1) -> bool:
    """Whether a video file holds more frames (after `step`) than a short clip may: the long-video path's.
    Folders and files the probe cannot read are not long (the short path names what is wrong)."""
    if Path(path).is_dir():
        return False
    try:
        info = probe(path, limits)
    except VideoError:
        return False
    return -(-info.n_frames // max(1, step)) > limits.max_frames
