"""FaceSeries made from a world FaceTrack's truth (no rendering): each region moves by the AU fields the
renderer uses, evaluated at the region's centre on the mean face, plus measurement noise; for testing
spotting apart from perception."""

from __future__ import annotations

import numpy as np

from deft.data.synthetic import AU_BUMPS, placed_bumps
from deft.data.world.track import FaceTrack
from deft.face3d import MEAN_FACE_X, MEAN_FACE_Y
from deft.long.series import FaceSeries
from deft.motion.regions import REGIONS, region_geometry

LIDS = {"right": "upper_eyelid_right", "left": "upper_eyelid_left"}
CLOSURE_DROP = 0.08  # IOD the upper-lid region moves down at full closure (the eye is ~0.1 IOD high)


def mean_face() -> np.ndarray:
    lm = np.stack([MEAN_FACE_X, MEAN_FACE_Y], 1)
    return lm / np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0))  # IOD = 1


def region_field(au: str, side: str) -> np.ndarray:
    """(R, 2) displacement of every region's centre for unit intensity of `au` on `side`."""
    lm = mean_face()
    centres = np.array([region_geometry(spec, lm, 1.0)[0] for spec in REGIONS])
    names = [spec.name for spec in REGIONS]
    out = np.zeros((len(REGIONS), 2))
    sides = ("right", "left") if side == "both" else (side,)
    if au in AU_BUMPS:
        for cx, cy, sigma, d, weight in placed_bumps(au, lm, side, 1.0):
            g = np.exp(-((centres[:, 0] - cx) ** 2 + (centres[:, 1] - cy) ** 2) / (2 * sigma**2))
            out += (weight * g)[:, None] * d
    elif au == "AU5":
        for s in sides:
            out[names.index(LIDS[s])] = (0.0, -0.7)
    elif au in ("AU43", "AU45", "AU46"):
        for s in sides:
            out[names.index(LIDS[s])] = (0.0, CLOSURE_DROP)
    elif au == "AU26":
        out[names.index("chin")], out[names.index("lower_lip")] = (0.0, 0.9), (0.0, 0.7)
    return out


def series_from_track(track: FaceTrack, lag: int = 6, noise: float = 0.002, head_noise: float = 0.003,
                      seed: int = 0, face_id: int = 0) -> FaceSeries:
    """The series a perfect tracker with `noise` IOD of flow noise per region would give for `track`;
    head moves leave residual motion of `head_noise` IOD per degree/frame of pose change."""
    rng = np.random.default_rng(seed)
    n = track.n_frames
    pos = np.zeros((n, len(REGIONS), 2))
    for (au, side), values in track.aus.items():
        pos += np.asarray(values)[:, None, None] * region_field(au, side)[None]
    pose = np.stack([track.yaw, track.pitch, track.roll], 1)
    motion = np.full_like(pos, np.nan)
    motion[lag:] = pos[lag:] - pos[:-lag]
    speed = np.zeros(n)
    speed[lag:] = np.abs(pose[lag:] - pose[:-lag]).max(axis=1)
    motion += rng.normal(0, 1, motion.shape) * (noise + head_noise * speed)[:, None, None]
    lm = np.broadcast_to(mean_face() * 60 + 300, (n, 68, 2)).copy()
    return FaceSeries(face_id, np.arange(n), lm, pose, np.full(n, 60.0), np.ones(n), motion, lag)
