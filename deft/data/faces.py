"""Real face photos that ship inside installed packages (no download): the synthetic generator's subjects."""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from deft.errors import ConfigError


def _astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()  # Eileen Collins, NASA photo, public domain (scikit-image)


def _hopper() -> np.ndarray:
    import matplotlib
    from matplotlib import image

    path = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")
    return np.asarray(image.imread(path))[..., :3].copy()  # Grace Hopper, US Navy photo, public domain


SOURCES = {"astronaut": _astronaut, "hopper": _hopper}
FACE_NAMES = tuple(SOURCES)


@lru_cache(maxsize=None)
def face_photo(name: str) -> np.ndarray:
    """RGB uint8 photo of a real face, by name (see FACE_NAMES)."""
    if name not in SOURCES:
        raise ConfigError(f"unknown face {name!r}; choose one of {', '.join(FACE_NAMES)}")
    img = SOURCES[name]()
    img.setflags(write=False)
    return img
