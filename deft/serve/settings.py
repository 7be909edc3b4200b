"""Limits and security settings of `deft serve`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from deft.errors import ConfigError


@dataclass(frozen=True)
class ServeSettings:
    api_keys: frozenset[str] = field(default_factory=frozenset)  # empty: no key required
    max_upload_bytes: int = 32 * 1024 * 1024  # decoded video size
    max_video_frames: int = 300  # after decoding (10 s at 30 fps)
    max_new_tokens: int = 256
    max_prompt_tokens: int = 1024  # the question or prompt the LLM reads (a clip's soft tokens come on top)
    max_request_tokens: int = 4096  # the text of every message of one request together
    request_timeout_s: float = 120.0
    head_timeout_s: float = 10.0  # a request's line and headers must be in within this (else 408, closed)
    body_timeout_s: float = 30.0  # a request body that sends nothing for this long gets a 408
    body_total_s: float = 120.0  # ... and one not all in this long after its head (32 MiB at >= 0.4 MB/s)
    max_concurrent: int = 1  # requests computing at once (CPU inference is serial anyway)
    max_queue: int = 64  # requests waiting beyond that get 429
    max_bodies_bytes: int = 192 * 2**20  # request bodies held at once, all requests together (else 503)
    max_files: int = 256  # uploaded clips kept; the oldest are dropped
    keep_uploads_s: float = 0.0  # 0: an uploaded clip is deleted once analysed; else kept this long after upload
    long_videos_kept: int = 1  # within keep_uploads_s, the last long videos' analyses a follow-up question reuses
    model_id: str = "deft"

    @classmethod
    def from_env(cls, api_key: str | None = None, **kw) -> "ServeSettings":
        """Keys from --api-key or DEFT_API_KEYS (comma-separated)."""
        keys = {k.strip() for k in os.environ.get("DEFT_API_KEYS", "").split(",") if k.strip()}
        if api_key:
            keys.add(api_key)
        return cls(api_keys=frozenset(keys), **kw)


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds in "90", "90s", "30m", "1h", "2d" (--keep-uploads)."""
    number, unit = (text[:-1], text[-1]) if text and text[-1] in DURATION_UNITS else (text, "s")
    try:
        seconds = float(number) * DURATION_UNITS[unit]
    except ValueError:
        raise ConfigError(f"{text!r} is no duration; give e.g. 0, 90s, 30m, 1h or 2d") from None
    if not seconds >= 0 or seconds == float("inf"):
        raise ConfigError(f"{text!r} is no duration; give e.g. 0, 90s, 30m, 1h or 2d")
    return seconds
