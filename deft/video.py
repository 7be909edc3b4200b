"""Read a clip into RGB frames: decord first, PyAV as fallback; image folders too; hard limits."""

from __future__ import annotations

import os
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from deft.errors import VideoError, VideoLimitError

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}


@dataclass(frozen=True)
class VideoLimits:
    """Caps that keep one clip's memory bounded; past them deft refuses with a clear error."""

    max_bytes: int = 512 * 1024 * 1024  # file size on disk
    max_frames: int = 600  # frames kept after sampling (20 s at 30 fps)
    max_side: int = 4096  # refuse sources larger than this (pixels, longest side)
    work_side: int = 640  # frames are downscaled so their longest side is at most this
    min_frames: int = 3  # onset, apex and offset need at least three frames


@dataclass
class Video:
    """Decoded frames (T, H, W, 3) uint8 RGB plus where they came from."""

    frames: np.ndarray
    fps: float
    source: str
    reader: str
    original_size: tuple[int, int]  # (width, height) before downscaling
    frame_indices: list[int] = field(default_factory=list)  # source index of each kept frame

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])


def _target_size(width: int, height: int, limits: VideoLimits, source: str) -> tuple[int, int]:
    if width <= 0 or height <= 0:
        raise VideoError(f"{source}: video reports an empty frame size ({width}x{height})")
    if max(width, height) > limits.max_side:
        raise VideoLimitError(
            f"{source}: frames are {width}x{height}, above the {limits.max_side}px limit; "
            "downscale the clip first"
        )
    scale = min(1.0, limits.work_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _sample(n_total: int, limits: VideoLimits, step: int, source: str) -> list[int]:
    indices = list(range(0, n_total, max(1, step)))
    if len(indices) > limits.max_frames:
        raise VideoLimitError(
            f"{source}: {len(indices)} frames after sampling, above the {limits.max_frames}-frame limit; "
            "trim the clip to the expression or sample with a larger step"
        )
    return indices


@contextmanager
def _quiet_native_stderr():
    """Silence FFmpeg's own log lines (printed from C by decord); errors still reach us as exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _reason(err: Exception) -> str:
    """First line of a decoder's error, without its log prefix ("[10:31:21] src/file.c:123: ")."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return re.sub(r"^\[[\d:]+\]\s*\S+:\d+:\s*", "", text)[:200]


def _read_decord(path: str, limits: VideoLimits, step: int) -> Video:
    import decord

    with _quiet_native_stderr():
        probe = decord.VideoReader(path, num_threads=1)
    first = probe[0].shape if len(probe) else (0, 0, 3)
    height, width = int(first[0]), int(first[1])
    new_w, new_h = _target_size(width, height, limits, path)
    reader = probe if (new_w, new_h) == (width, height) else decord.VideoReader(
        path, width=new_w, height=new_h, num_threads=1
    )
    indices = _sample(len(reader), limits, step, path)
    frames = reader.get_batch(indices).asnumpy()
    return Video(frames, float(reader.get_avg_fps() or 0.0), path, "decord", (width, height), indices)


def _read_pyav(path: str, limits: VideoLimits, step: int) -> Video:
    import av

    frames: list[np.ndarray] = []
    indices: list[int] = []
    with av.open(path) as container:
        if not container.streams.video:
            raise VideoError(f"{path}: the file holds no video stream")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0.0)
        width, height = stream.codec_context.width, stream.codec_context.height
        new_w, new_h = _target_size(width, height, limits, path)
        for i, frame in enumerate(container.decode(stream)):
            if i % max(1, step):
                continue
            if len(frames) >= limits.max_frames:
                raise VideoLimitError(
                    f"{path}: more than {limits.max_frames} frames after sampling; "
                    "trim the clip to the expression or sample with a larger step"
                )
            frames.append(frame.to_ndarray(format="rgb24", width=new_w, height=new_h))
            indices.append(i)
    if not frames:
        raise VideoError(f"{path}: no frame could be decoded")
    return Video(np.stack(frames), fps, path, "pyav", (width, height), indices)


def _read_image_folder(folder: str, limits: VideoLimits, step: int, fps: float) -> Video:
    files = sorted(
        (p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key
    )
    if not files:
        raise VideoError(f"{folder}: the folder holds no image frames ({', '.join(sorted(IMAGE_SUFFIXES))})")
    indices = _sample(len(files), limits, step, folder)
    frames, size = [], None
    for i in indices:
        bgr = cv2.imread(str(files[i]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise VideoError(f"{files[i]}: not a readable image")
        if size is None:
            h, w = bgr.shape[:2]
            size = (w, h)
            new_size = _target_size(w, h, limits, folder)
        if bgr.shape[1::-1] != size:
            raise VideoError(f"{files[i]}: frame size {bgr.shape[1]}x{bgr.shape[0]} differs from {size[0]}x{size[1]}")
        if new_size != size:
            bgr = cv2.resize(bgr, new_size, interpolation=cv2.INTER_AREA)
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return Video(np.stack(frames), fps, folder, "images", size, indices)


def _natural_key(path: Path) -> tuple:
    """Sort img2.jpg before img10.jpg, as frame folders (CASME II, SAMM) need."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name))


def read_video(
    path: str | os.PathLike, limits: VideoLimits = VideoLimits(), step: int = 1, folder_fps: float = 30.0
) -> Video:
    """Read every `step`-th frame of a video file or an image-sequence folder as RGB uint8.

    Raises VideoError naming the file for anything missing, empty, corrupt, too short or too large.
    """
    source = os.fspath(path)
    p = Path(source)
    if not p.exists():
        raise VideoError(f"{source}: no such file or folder")
    if p.is_dir():
        video = _read_image_folder(source, limits, step, folder_fps)
    else:
        size = p.stat().st_size
        if size == 0:
            raise VideoError(f"{source}: the file is empty")
        if size > limits.max_bytes:
            raise VideoLimitError(
                f"{source}: {size / 2**20:.0f} MiB, above the {limits.max_bytes / 2**20:.0f} MiB limit; "
                "trim or re-encode the clip"
            )
        errors = []
        video = None
        for reader in (_read_decord, _read_pyav):
            try:
                video = reader(source, limits, step)
                break
            except VideoLimitError:
                raise  # the clip is too big for any reader: trying the next one would only repeat the refusal
            except VideoError as err:
                errors.append(str(err))
            except Exception as err:  # noqa: BLE001 - decoders raise many unrelated types
                errors.append(f"{reader.__name__[6:]}: {_reason(err)}")
        if video is None:
            raise VideoError(f"{source}: not a readable video ({'; '.join(errors)})")
    if video.n_frames < limits.min_frames:
        raise VideoError(
            f"{source}: only {video.n_frames} frame(s); a micro-expression needs at least {limits.min_frames} "
            "(onset, apex, offset)"
        )
    return video


def write_video(frames: np.ndarray, path: str | os.PathLike, fps: float = 30.0, crf: int = 12) -> None:
    """Write RGB frames (T, H, W, 3) as an H.264 mp4 (near-lossless by default, so subtle motion survives)."""
    import av

    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise VideoError(f"{path}: H.264 needs even frame sizes, got {w}x{h}")
    with av.open(os.fspath(path), "w") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "fast"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
