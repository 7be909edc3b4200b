"""What the encoder wrote about itself: x264's rate factor, from the settings string it puts in the stream.

x264 (and so ffmpeg's libx264, most files re-encoded by a tool) writes its options as plain text in the first
frame's SEI message ("x264 - core ... options: ... rc=crf ... crf=28.0 ..."). The constant rate factor, or the
constant QP, says how much fine change the codec let go. Other encoders (a phone's hardware one, a call's
WebRTC one) write no such string: their rate is unknown, and deft claims nothing from it.
"""

from __future__ import annotations

import os
import re

SEARCH_BYTES = 4 << 20  # the settings sit in the first frame: after the header, or after a moov atom at the front
_OPTIONS = re.compile(rb"x264 - core \d+[^\x00]*?options: ([^\x00]*)")
_SETTING = re.compile(rb"(?:^| )(rc|crf|qp)=([0-9A-Za-z_.]+)")


def x264_rate_factor(path: str | os.PathLike) -> float | None:
    """x264's CRF (rc=crf) or constant QP (rc=cqp) for the file at `path`; None where no x264 settings string is
    found, or the rate was a bitrate (abr, cbr)."""
    try:
        with open(path, "rb") as f:
            head = f.read(SEARCH_BYTES)
    except OSError:
        return None
    found = _OPTIONS.search(head)
    if found is None:
        return None
    settings = {k.decode(): v.decode() for k, v in _SETTING.findall(found.group(1))}
    key = {"crf": "crf", "cqp": "qp"}.get(settings.get("rc", ""))
    try:
        return None if key is None or key not in settings else float(settings[key])
    except ValueError:
        return None
