"""Read a clip into RGB frames through one safe PyAV opener; image folders too; hard limits."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deft.encoder import x264_rate_factor
from deft.errors import VideoError, VideoLimitError

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}

# FFmpeg demuxers that read one plain file and never open another (names as FFmpeg spells them).
# Left out on purpose: hls/dash (playlists), concat, image2 (file-name patterns), and every network demuxer.
SAFE_DEMUXERS = (
    "mov,mp4,m4a,3gp,3g2,mj2",  # .mp4 .mov .m4v
    "matroska,webm",  # .mkv .webm
    "avi",
    "mpeg",  # .mpg .mpeg (program stream)
    "asf",  # .wmv
    "jpeg_pipe", "png_pipe", "bmp_pipe", "tiff_pipe",  # a single image
)
ALLOWED_CONTAINERS = "mp4/mov, mkv/webm, avi, mpeg, wmv"
_LIST_MAGIC = (b"#EXTM3U", b"ffconcat", b"<?xml", b"<MPD")  # HLS, FFmpeg concat, DASH manifests
# Every decoder deft opens refuses a frame over this many pixels (FFmpeg's max_pixels: VideoLimits.max_side
# squared), while probing too: without it opening a 12000x12000 PNG decoded it whole (+138 MB) before any check.
MAX_PIXELS = 4096 * 4096
_SAFE_OPTIONS = {"format_whitelist": ",".join(SAFE_DEMUXERS), "protocol_whitelist": "file",
                 "max_pixels": str(MAX_PIXELS)}  # the last reaches the decoders avformat_find_stream_info opens


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
    # frame pixels per source pixel: > 1 where the frames were upscaled (a long video's small-face interval
    # crops, deft.long.intervals), so face size and blur are judged on the source face, not the upscaled one
    upscale: float = 1.0
    native: np.ndarray | None = None  # with upscale > 1: the frames before it (T, h, w, 3), source pixels
    crf: float | None = None  # x264's rate factor (or constant QP) as the stream states it (deft.encoder); None: unknown

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])


def _target_size(width: int, height: int, limits: VideoLimits, source: str) -> tuple[int, int]:
    if width <= 0 or height <= 0:
        raise VideoError(f"{source}: video reports no frame size ({width}x{height}): broken, or frames over "
                         f"{MAX_PIXELS / 1e6:.1f} megapixels, which deft does not decode")
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


def _reason(err: Exception) -> str:
    """First line of a decoder's error, at most 200 characters."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:200]


@contextmanager
def open_media(path: str) -> Iterator["av.container.InputContainer"]:
    """Open a media file with PyAV, letting only plain-file containers through.

    The file is handed over as a Python file object, so its name is never read as a URL or protocol
    (`concat:`, `http:`, `subfile,`); FFmpeg may use only the demuxers in SAFE_DEMUXERS, and any file it
    would open on its own (a playlist's entries) must come through the `file` protocol, which the
    whitelist check refuses before any entry is opened. No decoder it opens, probing included, decodes a
    frame over MAX_PIXELS. Every decoder in deft reads through here.
    """
    import av

    with open(path, "rb") as raw:
        if raw.read(64).lstrip().startswith(_LIST_MAGIC):
            raise VideoError(f"{path}: a playlist or file list, not a video; deft never opens the files it names")
        raw.seek(0)
        try:
            container = av.open(raw, mode="r", options=_SAFE_OPTIONS)
        except av.error.ArgumentError as err:  # EINVAL: the probed format is not on the whitelist
            raise VideoError(
                f"{path}: not an allowed container ({_reason(err)}); deft reads {ALLOWED_CONTAINERS} files, "
                "never playlists, concat lists or network sources"
            ) from err
        except av.error.FFmpegError as err:
            raise VideoError(f"{path}: not a readable video ({_reason(err)})") from err
        with container:
            for stream in container.streams.video:  # the decoders that decode() opens
                stream.codec_context.options = {"max_pixels": str(MAX_PIXELS)}
            yield container


def rgb_converter(width: int, height: int) -> Callable[[Any], np.ndarray]:
    """PyAV frame -> (height, width, 3) RGB uint8. One reformatter serves every frame of a stream, so
    libswscale's context is set up once, not per frame as frame.to_ndarray(width=...) does (same pixels)."""
    from av.video.reformatter import VideoReformatter

    reformatter = VideoReformatter()
    return lambda frame: reformatter.reformat(frame, width=width, height=height, format="rgb24").to_ndarray()


def _read_pyav(path: str, limits: VideoLimits, step: int) -> Video:
    import av

    frames: list[np.ndarray] = []
    indices: list[int] = []
    with open_media(path) as container:
        if not container.streams.video:
            raise VideoError(f"{path}: the file holds no video stream")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0.0)
        width, height = stream.codec_context.width, stream.codec_context.height
        to_rgb = rgb_converter(*_target_size(width, height, limits, path))
        try:
            for i, frame in enumerate(container.decode(stream)):
                if i % max(1, step):
                    continue
                if len(frames) >= limits.max_frames:
                    raise VideoLimitError(
                        f"{path}: more frames after sampling than the {limits.max_frames}-frame limit; "
                        "trim the clip to the expression or sample with a larger step"
                    )
                frames.append(to_rgb(frame))
                indices.append(i)
        except av.error.FFmpegError as err:
            raise VideoError(f"{path}: not a readable video ({_reason(err)})") from err
    if not frames:
        raise VideoError(f"{path}: not a readable video (no frame could be decoded)")
    return Video(np.stack(frames), fps, path, "pyav", (width, height), indices, crf=x264_rate_factor(path))


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

    Raises VideoError naming the file for anything missing, empty, corrupt, too short or too large, and for
    any container but a plain video file (see open_media).
    """
    source = os.fspath(path)
    p = Path(source)
    if not p.exists():
        raise VideoError(f"{source}: no such file or folder")
    if p.is_dir():
        video = _read_image_folder(source, limits, step, folder_fps)
    elif not p.is_file():
        raise VideoError(f"{source}: not a regular file (a pipe or a device); save the clip to a file first")
    else:
        size = p.stat().st_size
        if size == 0:
            raise VideoError(f"{source}: the file is empty")
        if size > limits.max_bytes:
            raise VideoLimitError(
                f"{source}: {size / 2**20:.0f} MiB, above the {limits.max_bytes / 2**20:.0f} MiB limit; "
                "trim or re-encode the clip"
            )
        video = _read_pyav(source, limits, step)
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
