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
