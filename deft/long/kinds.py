"""What a spotted motion interval is: an expression (micro / macro) or ordinary face motion.

Ordinary motion is told apart by where the face moved most and which way (FACS: a blink (AU45) closes
both upper lids, a wink (AU46) one, AU5 raises them; talking drops the jaw and lower lip (AU25/AU26)),
and by the head turning during the interval (its residual motion is not a muscle's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

from deft.motion.regions import REGION_NAMES

EXPRESSION_KINDS = ("micro", "macro")
ORDINARY_KINDS = ("blink", "wink", "widen", "speech", "head")
UPPER_LIDS = (REGION_NAMES.index("upper_eyelid_right"), REGION_NAMES.index("upper_eyelid_left"))
MOUTH_OPENING = (REGION_NAMES.index("lower_lip"), REGION_NAMES.index("chin"))
LOWER_FACE = tuple(REGION_NAMES.index(n) for n in ("upper_lip", "lower_lip", "chin"))


@dataclass(frozen=True)
class KindConfig:
    """How an interval is named; shares are of the squared displacement at the apex summed over regions."""

    micro_max_s: float = 0.5  # micro-expressions last <= 0.5 s (Yan et al. 2013, CASME II)
    lid_share: float = 0.4  # upper lids carry this share of the motion: blink / wink / widen
    mouth_share: float = 0.4  # lower lip + chin carry this share, moving down: speech
    wink_balance: float = 0.4  # the weaker lid moved under this share of the stronger one: a wink
    head_deg: float = 4.0  # yaw/pitch/roll changed by more than this during the interval: a head move
    head_pad_s: float = 0.3  # ... or this close to it (flow settles after a turn)
    turn_deg_s: float = 15.0  # the head turns faster than this (deg/s): its motion is not a muscle's
    pose_smooth_s: float = 0.5  # head pose is median-filtered over this long first (per-frame pose jitters)
    tail_s: float = 0.2  # a weaker interval this close to a blink, wink, widening or head move is its tail
    speech_near_s: float = 0.5  # mouth-led motion this close to speech is speech (a phrase's soft ends)


def ordinary_kind(disp: np.ndarray, pose: np.ndarray, config: KindConfig = KindConfig()) -> str | None:
    """The ordinary motion `disp` (m, R, 2; IOD from baseline) over an interval shows, or None.

    `pose` (k, 3) is the head's yaw/pitch/roll in degrees over those frames and `head_pad_s` around them
    (NaN where unknown).
    """
    finite = pose[np.isfinite(pose).all(axis=1)]
    if len(finite) and float((finite.max(axis=0) - finite.min(axis=0)).max()) > config.head_deg:
        return "head"
    at = int(np.argmax(np.linalg.norm(disp, axis=-1).sum(axis=1)))  # the interval's apex
    energy = _apex_energy(disp)
    total = float(energy.sum())
    if total <= 0:
        return None
    lids = energy[list(UPPER_LIDS)]
    if lids.sum() >= config.lid_share * total:
        if float(disp[at, list(UPPER_LIDS), 1].mean()) < 0:  # image y down: negative is up
            return "widen"
        return "wink" if lids.min() < config.wink_balance**2 * lids.max() else "blink"
    if energy[list(MOUTH_OPENING)].sum() >= config.mouth_share * total:
        # the jaw drops (y down) at least half as far as it rises: talking, not a chin raiser (AU17);
        # during a long phrase the local rest is half-open, so closing reads as rising
        dy = disp[:, list(MOUTH_OPENING), 1].mean(axis=1)
        if float(dy.max()) >= 0.5 * float(-dy.min()):
            return "speech"
    return None

def steady_pose(pose: np.ndarray, rows_per_s: float, config: KindConfig = KindConfig()) -> np.ndarray:
    """(n, 3) yaw/pitch/roll median-filtered over `config.pose_smooth_s` (gaps filled from their neighbours;
    rows never posed stay NaN): head moves last 0.6 s and more, a per-frame fit jitters by degrees."""
    pose = np.array(pose, np.float64)
    known = np.isfinite(pose).all(axis=1)
    if known.sum() < 2:
        return pose
    rows = np.arange(len(pose))
    filled = np.stack([np.interp(rows, rows[known], pose[known, j]) for j in range(pose.shape[1])], axis=1)
    size = max(1, int(round(config.pose_smooth_s * rows_per_s))) | 1
    return median_filter(filled, size=(size, 1), mode="nearest")


def for_pose_noise(steady: np.ndarray, lag: int, rows_per_s: float, config: KindConfig = KindConfig()) -> KindConfig:
    """`config` with the head thresholds raised above what the filtered pose's own jitter reaches (small or
    turned faces jitter by degrees): 5 sigma of its change over `lag` rows, as a range and as a speed.
    Sigma is a median over the whole series: the head is still most of the time."""
    from dataclasses import replace

    steady = np.asarray(steady, np.float64)
    if len(steady) <= lag:
        return config
    change = np.abs(steady[lag:] - steady[:-lag])
    change = change[np.isfinite(change).all(axis=1)]
    if not len(change):
        return config
    sigma = 1.4826 * float(np.median(change, axis=0).max()) / np.sqrt(2)
    return replace(config, head_deg=max(config.head_deg, 5 * sigma),
                   turn_deg_s=max(config.turn_deg_s, 5 * np.sqrt(2) * sigma * rows_per_s / lag))


def turning(pose: np.ndarray, lag: int, rows_per_s: float, config: KindConfig = KindConfig()) -> np.ndarray:
    """(n,) rows where yaw, pitch or roll changes faster than `config.turn_deg_s` over the last `lag` rows."""
    pose = np.asarray(pose, np.float64)
    out = np.zeros(len(pose), bool)
    if len(pose) > lag:
        change = np.abs(pose[lag:] - pose[:-lag]).max(axis=1)  # NaN where lost: not turning
        out[lag:] = np.nan_to_num(change, nan=0.0) * rows_per_s / lag > config.turn_deg_s
    return out


def mouth_led(disp: np.ndarray, config: KindConfig = KindConfig()) -> bool:
    """The lips and chin (what opens the mouth) carry most of the motion at the apex (any direction)."""
    energy = _apex_energy(disp)
    return energy.sum() > 0 and energy[list(LOWER_FACE)].sum() >= 0.5 * energy.sum()


def _apex_energy(disp: np.ndarray) -> np.ndarray:
    """(R,) squared displacement around the apex: noise spread over many regions counts little."""
    mag = np.linalg.norm(disp, axis=-1)  # (m, R)
    at = int(np.argmax(mag.sum(axis=1)))
    return mag[max(0, at - 1):at + 2].mean(axis=0) ** 2


def interval_kind(disp: np.ndarray, pose: np.ndarray, duration_s: float, config: KindConfig = KindConfig()) -> str:
    """micro / macro by duration (MEGC), unless the motion is ordinary (see `ordinary_kind`)."""
    return ordinary_kind(disp, pose, config) or ("micro" if duration_s <= config.micro_max_s else "macro")
