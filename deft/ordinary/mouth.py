"""Mouth events: speech (sustained rhythmic opening, AU25 + AU26) and a lone jaw drop (AU26)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deft.ordinary.result import OrdinaryEvent
from deft.ordinary.runs import hysteresis, peaks


@dataclass(frozen=True)
class MouthConfig:
    """Openings in IOD of the face's own eye line (geometry.py)."""

    syllable_iod: float = 0.025  # an opening this much above the closings around it is one syllable
    syllable_px: float = 1.5  # ... and at least this many pixels: dlib's lip points jitter ~0.5 px
    rate_hz: tuple[float, float] = (2.0, 8.0)  # syllable rates of speech (3-6 Hz typical)
    min_syllables: int = 3  # fewer openings are not speech: a gasp, a surprise, one word
    min_s: float = 0.6  # speech lasts at least this long
    jaw_iod: float = 0.02  # the jaw moves with the lips at least this much over a phrase: AU26 too
    drop_iod: float = 0.1  # a lone opening this far above the clip's closed mouth, jaw down too: AU26


def _troughs(signal: np.ndarray, first: int, last: int) -> tuple[int, int]:
    """The frames where the mouth is most closed before `first` and after `last` (down to the next rise)."""
    a = first
    while a > 0 and signal[a - 1] <= signal[a]:
        a -= 1
    b = last
    while b < len(signal) - 1 and signal[b + 1] <= signal[b]:
        b += 1
    return a, b


def speech_events(mouth: np.ndarray, jaw: np.ndarray, fps: float, iod_px: float,
                  config: MouthConfig = MouthConfig()) -> list[OrdinaryEvent]:
    """Phrases: runs of >= min_syllables openings spaced at 2-8 Hz, lasting >= min_s."""
    tops = peaks(mouth, max(config.syllable_iod, config.syllable_px / iod_px))
    lo, hi = fps / config.rate_hz[1], fps / config.rate_hz[0]  # frames between syllables
    groups: list[list[int]] = []
    for t in tops:
        if groups and t - groups[-1][-1] < lo:  # faster than speech: one syllable's two tops (jitter), the higher kept
            if mouth[t] > mouth[groups[-1][-1]]:
                groups[-1][-1] = t
        elif groups and t - groups[-1][-1] <= hi:
            groups[-1].append(t)
        else:
            groups.append([t])
    out = []
    for g in groups:
        a, b = _troughs(mouth, g[0], g[-1])
        if len(g) < config.min_syllables or (b - a + 1) / fps < config.min_s:
            continue
        jaw_range = float(np.ptp(jaw[a:b + 1]))
        aus = ("AU25", "AU26") if jaw_range >= config.jaw_iod else ("AU25",)
        apex = g[int(np.argmax(mouth[g]))]
        out.append(OrdinaryEvent("speech", a, apex, b, aus, "both", float(mouth[apex] - min(mouth[a], mouth[b]))))
    return out


def jaw_drops(mouth: np.ndarray, lips: np.ndarray, jaw: np.ndarray, speech: list[OrdinaryEvent],
              config: MouthConfig = MouthConfig()) -> list[OrdinaryEvent]:
    """AU26 outside speech: the mouth opens past drop_iod over its closed baseline, the lips part and the
    jaw lowers with it (a nod changes the outer mouth and jaw lengths, hardly the gap between the lips)."""
    base = {name: float(np.percentile(v, 20)) for name, v in (("mouth", mouth), ("lips", lips), ("jaw", jaw))}
    out = []
    for a, b in hysteresis(mouth - base["mouth"], config.drop_iod / 2, config.drop_iod):
        if any(e.overlaps(a, b) for e in speech):
            continue
        apex = a + int(np.argmax(mouth[a:b + 1]))
        if min(jaw[apex] - base["jaw"], lips[apex] - base["lips"]) >= config.drop_iod / 2:
            out.append(OrdinaryEvent("jaw", a, apex, b, ("AU25", "AU26"), "both", float(jaw[apex] - base["jaw"])))
    return out
