"""Clips from requests: base64 data URLs or uploaded file ids; never a path or URL on the server."""

from __future__ import annotations

import base64
import binascii
import os
import re
import shutil
import tempfile
import threading
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


class FileStore:
    """Uploaded clips by id, in a private temp folder (0700), oldest dropped past `max_files`, all deleted at
    shutdown (close)."""

    def __init__(self, max_files: int):
        self.dir = tempfile.mkdtemp(prefix="deft-serve-")
        self.max_files = max_files
        self.files: OrderedDict[str, str] = OrderedDict()
        self.lock = threading.Lock()

    def add(self, data: bytes, suffix: str = ".mp4") -> str:
        file_id = f"file-{uuid.uuid4().hex}"
        path = os.path.join(self.dir, file_id + suffix)
        with open(path, "wb") as f:
            f.write(data)
        with self.lock:
            self.files[file_id] = path
            while len(self.files) > self.max_files:
                _, old = self.files.popitem(last=False)
                os.unlink(old)
        return file_id

    def close(self) -> None:
        """Delete every uploaded clip and the folder (the server's shutdown calls it)."""
        with self.lock:
            self.files.clear()
            shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, file_id: str) -> str:
        with self.lock:
            if file_id not in self.files:
                raise APIError(404, f"no uploaded file {file_id!r}", "file_not_found", "file_id")
            return self.files[file_id]


def write_temp(data: bytes, folder: str) -> str:
    fd, path = tempfile.mkstemp(suffix=".mp4", dir=folder)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path
