"""Long-video analyses kept for follow-up questions, no longer than the server keeps an upload.

A question about one interval of a long video sends (or names) the whole video again; tracking it again would
take as long as the first answer. Within `--keep-uploads` the same bytes get the analysis already made; with
the default 0 nothing is kept, as with uploads (the analyses hold the face's crops).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class RecentAnalyses(Generic[T]):
    """The last `size` analyses by the content of the video they came from, each kept `keep_s` seconds."""

    def __init__(self, size: int, keep_s: float):
        self.size, self.keep_s = size, keep_s
        self._kept: OrderedDict[str, tuple[float, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str, make: Callable[[], T]) -> T:
        """The analysis of the video at `path`: a kept one of the same bytes, else `make()` (kept if allowed)."""
        if self.size < 1 or self.keep_s <= 0:
            return make()
        with open(path, "rb") as f:
            key = hashlib.file_digest(f, "sha256").hexdigest()
        with self._lock:
            self._expire_locked()
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key][1]
        made = make()  # outside the lock: another video's question need not wait for this one
        with self._lock:
            self._kept[key] = (time.monotonic(), made)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return made

    def __len__(self) -> int:
        return len(self._kept)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()

    def expire(self) -> None:
        """Drop the analyses kept longer than `keep_s` (the server's sweep calls it with the uploads')."""
        with self._lock:
            self._expire_locked()

    def _expire_locked(self) -> None:
        now = time.monotonic()
        for key in [k for k, (at, _) in self._kept.items() if now - at > self.keep_s]:
            del self._kept[key]
