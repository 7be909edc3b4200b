"""Clips from requests: base64 data URLs or uploaded file ids; never a path or URL on the server."""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict

from deft.serve.openai_errors import APIError

DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(;[\w=.+-]+)*;base64,(?P<data>.*)$", re.S)
VIDEO_MIME = {"video/mp4", "video/quicktime", "video/webm", "video/x-matroska", "video/avi", "video/x-msvideo",
              "application/octet-stream"}


def decode_data_url(url: str, max_bytes: int) -> bytes:
    """Bytes of a `data:video/...;base64,...` URL, size-checked before and after decoding."""
    if not isinstance(url, str):
        raise APIError(400, "video_url.url must be a string", "invalid_video", "video_url")
    m = DATA_URL.match(url.strip())
    if m is None:
        scheme = url.split(":", 1)[0][:16] if ":" in url else "a path"
        raise APIError(400, f"video_url must be a base64 data URL (data:video/mp4;base64,...); {scheme} is not "
                            "accepted: the server reads no paths or remote URLs", "invalid_video", "video_url")
    if m.group("mime") and m.group("mime") not in VIDEO_MIME:
        raise APIError(415, f"unsupported media type {m.group('mime')}; send a video (e.g. video/mp4)", "unsupported_media")
    payload = m.group("data")
    if len(payload) * 3 // 4 > max_bytes:
        raise APIError(413, f"video is larger than {max_bytes // 2**20} MiB", "video_too_large")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise APIError(400, "video_url holds malformed base64", "invalid_base64", "video_url") from None
    if not data:
        raise APIError(400, "video_url holds an empty video", "invalid_video", "video_url")
    return data


UNUSED_UPLOAD_S = 3600.0  # an upload no request has used is deleted this long after it came (--keep-uploads 0)


class FileStore:
    """Uploaded clips by id, in a private temp folder (0700). Private by default: with `keep_s` 0 a clip is
    deleted once a request has analysed it (or UNUSED_UPLOAD_S after upload if none does); with `keep_s` > 0
    it stays usable that long after upload, then is deleted. The oldest go past `max_files`; all go at
    shutdown (close). Expired clips are deleted when the store is touched and by `sweep` (the server calls
    it periodically)."""

    def __init__(self, max_files: int, keep_s: float = 0.0):
        self.dir = tempfile.mkdtemp(prefix="deft-serve-")
        self.max_files, self.keep_s = max_files, keep_s
        self.files: OrderedDict[str, tuple[str, float]] = OrderedDict()  # id -> (path, monotonic expiry)
        self.lock = threading.Lock()

    def add(self, data: bytes, suffix: str = ".mp4") -> str:
        file_id = f"file-{uuid.uuid4().hex}"
        path = os.path.join(self.dir, file_id + suffix)
        with open(path, "wb") as f:
            f.write(data)
        with self.lock:
            self.files[file_id] = (path, time.monotonic() + (self.keep_s or UNUSED_UPLOAD_S))
            while len(self.files) > self.max_files:
                _remove(self.files.popitem(last=False)[1][0])
        self.sweep()
        return file_id

    def path(self, file_id: str) -> str:
        self.sweep()
        with self.lock:
            if file_id not in self.files:
                raise APIError(404, f"no uploaded file {file_id!r}", "file_not_found", "file_id")
            return self.files[file_id][0]

    def used(self, path: str) -> None:
        """A request has analysed the clip at `path`: without --keep-uploads it is deleted now."""
        if self.keep_s:
            return
        with self.lock:
            for file_id in [i for i, (p, _) in self.files.items() if p == path]:
                del self.files[file_id]
                _remove(path)

    def sweep(self) -> None:
        """Delete the clips past their time."""
        now = time.monotonic()
        with self.lock:
            for file_id in [i for i, (_, expiry) in self.files.items() if expiry <= now]:
                _remove(self.files.pop(file_id)[0])

    def close(self) -> None:
        """Delete every uploaded clip and the folder (the server's shutdown calls it)."""
        with self.lock:
            self.files.clear()
            shutil.rmtree(self.dir, ignore_errors=True)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def write_temp(data: bytes, folder: str) -> str:
    fd, path = tempfile.mkstemp(suffix=".mp4", dir=folder)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path
