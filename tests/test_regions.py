"""Region discs: measured in windows, they are the discs region_geometry places on the whole crop."""

import numpy as np

from deft.motion.regions import REGIONS, region_geometry, region_windows


def _full_crop_disc(shape, spec, landmarks, iod):
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w]
    (cx, cy), r = region_geometry(spec, landmarks, iod)
    disc = (xs - cx) ** 2 + (ys - cy) ** 2 <= r**2
    if not disc.any():  # off the crop: its nearest pixel
        disc[int(np.clip(cy, 0, h - 1)), int(np.clip(cx, 0, w - 1))] = True
    return disc


def test_windows_hold_the_full_crop_discs():
    rng = np.random.default_rng(0)
    off_crop = 0
    for i in range(200):
        shape = (int(rng.integers(20, 200)), int(rng.integers(20, 200)))
        landmarks = rng.uniform(-60, 260, (68, 2))
        if i % 2:
            landmarks = np.round(landmarks * 2) / 2  # half pixels: disc edges through pixel centres
        iod = float(rng.uniform(2, 80))
        if i % 4 == 3:  # whole-pixel landmarks and radii (0.12 x 25 = 3 px): disc edges on pixels exactly
            landmarks, iod = np.round(landmarks), (25.0, 50.0)[i % 8 // 4]
        for spec, (rows, cols, disc) in zip(REGIONS, region_windows(shape, landmarks, iod)):
            placed = np.zeros(shape, bool)
            placed[rows, cols] = disc
            expected = _full_crop_disc(shape, spec, landmarks, iod)
            assert np.array_equal(placed, expected), (i, spec.name)
            off_crop += int(expected.sum() == 1)
    assert off_crop > 0  # the nearest-pixel case was met
