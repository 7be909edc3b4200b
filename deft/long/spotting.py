"""Spotting (MEGC style): intervals where a face moved from its local rest, with onset, apex and offset.

Per frame, how far the face's most-moved regions are from their local baseline (deft.long.displacement);
peaks of that curve above the noise are intervals; each reaches back and forward to where the curve falls
away (split at valleys), its onset/offset placed by its half-height width (a raised-cosine rise crosses half
height half-way up). Each is then named (deft.long.kinds): micro / macro by duration, or ordinary motion
(blink, wink, widen, speech, head), which is left out unless asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deft.long.displacement import displacement, series_step
from deft.long.kinds import (EXPRESSION_KINDS, KindConfig, for_pose_noise, interval_kind, mouth_led, steady_pose,
                             turning)
from deft.long.series import FaceSeries
from deft.ordinary.geometry import face_measures, fill_lost
from deft.ordinary.mouth import speech_events


@dataclass(frozen=True)
class SpotConfig:
    """Knobs of spotting; amplitudes in inter-ocular distances (IOD), times in seconds."""

    # local rest: rolling medians over these windows (short: micro, long: macro); the longer the window,
    # the more flow noise summed over it drifts, so each window has its own noise level
    baseline_s: tuple[float, ...] = (1.5, 6.0)
    top_regions: int = 2  # the curve is the mean displacement of the this-many most-moved regions
    min_peak_iod: float = 0.003  # nothing smaller is spotted, whatever the noise
    noise_k: float = 2.5  # a peak must also exceed this many times the curve's quiet level
    quiet_percentile: float = 25.0  # the quiet level: this percentile of the curve (faces rest between events)
    edge_share: float = 0.15  # an interval extends while the curve stays above this share of its peak
    valley_share: float = 0.5  # ... and stops at a valley under this share where the curve rises again
    min_s: float = 0.1  # shorter intervals are noise (or the tail of a neighbour), not events
    merge_gap_s: float = 0.4  # consecutive speech (syllables) closer than this are one interval
    report: tuple[str, ...] = EXPRESSION_KINDS  # kinds returned; add e.g. "blink", "speech" to see them
    kinds: KindConfig = field(default_factory=KindConfig)


@dataclass
class Interval:
    """One spotted interval; frame indices of the source video (offset inclusive)."""

    onset: int
    apex: int
    offset: int
    kind: str  # micro | macro | blink | wink | widen | speech | head
    score: float  # peak displacement over the detection threshold (>= 1)
    peak_iod: float = 0.0

    def to_dict(self) -> dict:
        return {"onset": self.onset, "apex": self.apex, "offset": self.offset, "kind": self.kind,
                "score": round(self.score, 3), "peak_iod": round(self.peak_iod, 4)}


def motion_curve(disp: np.ndarray, valid: np.ndarray, top: int) -> np.ndarray:
    """(n,) mean displacement (IOD) of the `top` most-moved regions per row, lightly smoothed; 0 where lost."""
    mag = np.linalg.norm(disp, axis=-1)
    k = min(top, mag.shape[1])
    curve = np.sort(mag, axis=1)[:, -k:].mean(axis=1) if len(mag) else np.zeros(0)
    curve = np.where(valid, curve, 0.0)
    if len(curve) >= 3:
        curve = np.convolve(np.pad(curve, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    return curve


def _extent(curve: np.ndarray, apex: int, covered: np.ndarray, config: SpotConfig) -> tuple[int, int]:
    """Rows around `apex` while the curve stays up (not into another interval, not past a valley)."""
    peak = curve[apex]
    low, valley = config.edge_share * peak, config.valley_share * peak

    def walk(t: int, d: int) -> int:
        while 0 <= t + d < len(curve) and not covered[t + d] and curve[t + d] > low:
            if curve[t] < valley and curve[t + d] > curve[t]:
                break
            t += d
        return t

    return walk(apex, -1), walk(apex, 1)


def _half_width_edges(curve: np.ndarray, apex: int, lo: int, hi: int, covered: np.ndarray,
                      floor: float) -> tuple[int, int]:
    """Onset/offset: twice the distance from the apex to where the curve crosses half its height above
    the noise `floor`."""
    half = floor + 0.5 * (curve[apex] - floor)
    left = next((t for t in range(apex, lo - 1, -1) if curve[t] < half), None)
    right = next((t for t in range(apex, hi + 1) if curve[t] < half), None)
    # the crossing between the frame under half and its neighbour, to a fraction of a frame
    x_left = lo if left is None else left + (half - curve[left]) / max(curve[left + 1] - curve[left], 1e-12)
    x_right = hi if right is None else right - (half - curve[right]) / max(curve[right - 1] - curve[right], 1e-12)
    onset, offset = int(round(apex - 2 * (apex - x_left))), int(round(apex + 2 * (x_right - apex)))
    free = np.nonzero(covered[:apex])[0]
    onset = max(onset, int(free[-1]) + 1 if len(free) else 0)
    taken = np.nonzero(covered[apex + 1:])[0]
    offset = min(offset, apex + int(taken[0]) if len(taken) else len(curve) - 1)
    return max(0, min(onset, lo)), max(offset, hi)


def landmark_speech(series: FaceSeries, rows_per_s: float) -> list[tuple[int, int]]:
    """Phrases (first, last source frame) found from the lips' and jaw's rhythmic opening in the
    landmarks (deft.ordinary's speech detector)."""
    lm = np.asarray(series.landmarks, np.float64)
    if len(lm) < 3 or not np.isfinite(lm).any():
        return []
    measures = face_measures(lm)
    events = speech_events(fill_lost(measures.mouth_open), fill_lost(measures.jaw), rows_per_s, measures.iod_px)
    return [(int(series.frames[e.onset]), int(series.frames[e.offset])) for e in events]


def _ordinary_tails(found: list[tuple[Interval, bool]], phrases: list[tuple[int, int]], fps: float,
                    config: KindConfig) -> list[Interval]:
    """Expression intervals that belong to motion beside them: those overlapping a stronger expression are
    dropped (its shoulder); mouth-led ones within
    `speech_near_s` of speech (a phrase's soft first and last syllables, the mouth closing against a rest
    the open mouth lifted), and weaker ones within `tail_s` of any other ordinary interval (a blink's
    settling lids)."""
    near, tail = int(round(config.speech_near_s * fps)), int(round(config.tail_s * fps))
    spans = phrases + [(iv.onset, iv.offset) for iv, _ in found if iv.kind == "speech"]
    ordinary = [iv for iv, _ in found if iv.kind not in EXPRESSION_KINDS]
    out = []
    for iv, mouth in found:
        if iv.kind in EXPRESSION_KINDS and any(o.score > iv.score and o.kind in EXPRESSION_KINDS
                                               and o.onset <= iv.offset and iv.onset <= o.offset for o, _ in found):
            continue  # the shoulder of a stronger expression it overlaps
        kind = iv.kind
        if kind in EXPRESSION_KINDS:
            if mouth and any(a - near <= iv.offset and iv.onset <= b + near for a, b in spans):
                kind = "speech"
            else:
                kind = next((o.kind for o in ordinary if o.score >= iv.score
                             and o.onset - tail <= iv.offset and iv.onset <= o.offset + tail), kind)
        out.append(Interval(iv.onset, iv.apex, iv.offset, kind, iv.score, iv.peak_iod))
    return out


def _merge_speech(intervals: list[Interval], gap: int) -> list[Interval]:
    out: list[Interval] = []
    for iv in sorted(intervals, key=lambda i: i.onset):
        prev = out[-1] if out else None
        if prev and prev.kind == iv.kind == "speech" and iv.onset - prev.offset <= gap:
            top = prev if prev.score >= iv.score else iv
            out[-1] = Interval(prev.onset, top.apex, max(prev.offset, iv.offset), "speech", top.score, top.peak_iod)
        else:
            out.append(iv)
    return out


def _curves(series: FaceSeries, rows_per_s: float, config: SpotConfig, pose: np.ndarray, kinds: KindConfig):
    """Per baseline window: displacement (n, R, 2) and curve over its threshold (n,); and the valid mask.
    Rows where the head turns are left out (their residual motion would shift the face's rest)."""
    out, valid = [], None
    lag = max(1, int(round(series.lag / series_step(series))))
    skip = turning(pose, lag, rows_per_s, kinds)
    for seconds in config.baseline_s:
        disp, valid = displacement(series, int(round(seconds * rows_per_s)), skip)
        curve = motion_curve(disp, valid, config.top_regions)
        quiet = float(np.percentile(curve[valid], config.quiet_percentile)) if valid.any() else 0.0
        threshold = max(config.min_peak_iod, config.noise_k * quiet)
        out.append((disp, curve / threshold))
    return out, valid


def spot_all(series: FaceSeries, fps: float, config: SpotConfig = SpotConfig()) -> list[Interval]:
    """Every interval of motion on this face, of every kind, in time order."""
    step = series_step(series)
    rows_per_s = fps / step
    pose = steady_pose(series.pose, rows_per_s, config.kinds)
    lag = max(1, int(round(series.lag / step)))
    kinds = for_pose_noise(pose, lag, rows_per_s, config.kinds)
    scales, valid = _curves(series, rows_per_s, config, pose, kinds)
    if valid is None or not valid.any():
        return []
    ratios = np.stack([r for _, r in scales])  # (S, n)
    best = np.argmax(ratios, axis=0)
    curve = ratios.max(axis=0)
    covered = ~valid
    found: list[tuple[Interval, bool]] = []
    for apex in np.argsort(-curve, kind="stable"):
        if curve[apex] < 1.0:
            break
        if covered[apex]:
            continue
        lo, hi = _extent(curve, int(apex), covered, config)
        onset, offset = _half_width_edges(curve, int(apex), lo, hi, covered, 1.0 / config.noise_k)
        covered[lo:hi + 1] = True
        if (offset - onset) / rows_per_s < config.min_s:
            continue
        disp = scales[best[apex]][0]
        pad = int(round(kinds.head_pad_s * rows_per_s))
        kind = interval_kind(disp[onset:offset + 1], pose[max(0, onset - pad):offset + pad + 1],
                             (offset - onset) / rows_per_s, kinds)
        f = series.frames
        peak_iod = float(np.linalg.norm(disp[apex], axis=-1).max())
        found.append((Interval(int(f[onset]), int(f[apex]), int(f[offset]), kind, float(curve[apex]), peak_iod),
                      mouth_led(disp[onset:offset + 1], kinds)))
    found = _ordinary_tails(found, landmark_speech(series, rows_per_s), fps, kinds)
    return _merge_speech(found, int(round(config.merge_gap_s * fps)))


def spot(series: FaceSeries, fps: float, config: SpotConfig = SpotConfig()) -> list[Interval]:
    """The intervals of the kinds `config.report` names (micro and macro expressions by default)."""
    return [iv for iv in spot_all(series, fps, config) if iv.kind in config.report]
