"""Shared fixtures: synthetic clips of known truth, rendered once per session."""

from __future__ import annotations

import numpy as np
import pytest

from deft.data.synthetic import SyntheticSpec, render
from deft.video import Video, write_video


def as_video(frames: np.ndarray, source: str = "synthetic") -> Video:
    return Video(frames, 30.0, source, "synthetic", (frames.shape[2], frames.shape[1]))


@pytest.fixture(scope="session")
def happy_clip():
    """AU6 + AU12 on the astronaut, apex at frame 14."""
    return render(SyntheticSpec())


@pytest.fixture(scope="session")
def happy_mp4(tmp_path_factory, happy_clip) -> str:
    path = tmp_path_factory.mktemp("clips") / "happy.mp4"
    write_video(happy_clip.frames, path)
    return str(path)


@pytest.fixture(scope="session")
def still_clip():
    """No AU: only head drift and noise."""
    return render(SyntheticSpec(face="hopper", aus=(), seed=3))


@pytest.fixture(scope="session")
def long_smile_mp4(tmp_path_factory) -> str:
    """640 frames (over the 600-frame clip cap: a long video): a still face, a smile (AU6 + AU12) over
    frames 310-330 with its apex at 318, still again."""
    clip = render(SyntheticSpec(n_frames=40, onset=10, apex=18, offset=30, drift_px=0.0, drift_deg=0.0, seed=5))
    frames = np.concatenate([np.repeat(clip.frames[:1], 300, 0), clip.frames, np.repeat(clip.frames[-1:], 300, 0)])
    path = tmp_path_factory.mktemp("long") / "smile.mp4"
    write_video(frames, path)
    return str(path)
