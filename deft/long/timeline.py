"""A long video's timeline as a picture: one lane per face, each spotted interval a bar numbered as listed."""

from __future__ import annotations

import os

from deft.long.analyze import IntervalClip
from deft.long.overlay import KIND_COLOURS, OTHER_COLOUR
from deft.long.series import LongAnalysis


def plot_timeline(result: LongAnalysis, clips: list[IntervalClip], path: str | os.PathLike) -> None:
    """Save a PNG: time across, a lane per face (its tracked span in grey), interval k of `clips` as bar k."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lanes = {f.face_id: n for n, f in enumerate(result.faces)}
    fig, ax = plt.subplots(figsize=(10, 0.9 + 0.6 * max(1, len(lanes))))
    for face in result.faces:
        y = lanes[face.face_id]
        ax.broken_barh([(face.first / result.fps, (face.last - face.first + 1) / result.fps)], (y - 0.05, 0.1),
                       color="0.8")
    for k, clip in enumerate(clips, start=1):
        start, end = clip.interval["time_s"]
        colour = [c / 255 for c in KIND_COLOURS.get(clip.interval["kind"], OTHER_COLOUR)]
        y = lanes.get(clip.face_id, 0)
        ax.broken_barh([(start, max(end - start, 1 / result.fps))], (y - 0.3, 0.6), color=colour)
        ax.annotate(str(k), (start, y + 0.32), fontsize=8, ha="left", va="bottom")
    ax.set_yticks(range(len(lanes)), [f"face {fid}" for fid in lanes])
    ax.set_ylim(-0.6, len(lanes) - 0.4 + 0.3)
    ax.set_xlim(0, result.n_frames / result.fps)
    ax.set_xlabel("time (s)   red: micro, orange: macro; numbers as in the interval table")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
