"""Mouth AUs that moved past what the clip's speech moves: an expression said while talking.

Speech explains the mouth AUs its syllables move (deft.ordinary.explain); a sad or disgusted micro-expression
made while talking moves the same regions. Speech's own share of each region's motion is fitted on the clip's
mouth signals (deft.ordinary.separate) and taken out; an AU whose rule still passes on what is left, by more
than that leftover's noise in the frames outside the expression, moved past the speech.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deft.au_model import quiet_frames
from deft.aus import AUEvidence, rules_on
from deft.motion.phases import REGION_FLOOR_IOD
from deft.motion.regions import REGION_NAMES
from deft.ordinary.result import Ordinary
from deft.ordinary.separate import Separator


@dataclass(frozen=True)
class BeyondConfig:
    """Chosen on the seed-shifted dev speech sets (benchmarks/README, "ordinary motion")."""

    snr: float = 0.75  # the AU's pull on the speech-free motion over its regions' noise outside the expression
    # AU25 is speech's own (the lips part with every syllable): what the fit leaves of a syllable passes its rule
    aus: frozenset[str] = frozenset({"AU10", "AU15", "AU17"})
    min_quiet: int = 3  # fewer frames outside the expression: no noise estimate, nothing kept


def _noise(d: np.ndarray, onset: int, offset: int, min_quiet: int) -> np.ndarray | None:
    """(R,) RMS of each region's speech-free motion vs the reference over the frames outside the expression."""
    quiet = quiet_frames(len(d), onset, offset)
    if quiet.sum() < min_quiet:
        return None
    return np.sqrt(np.mean(np.sum(d[quiet] ** 2, axis=-1), axis=0))


def beyond_speech(ordinary: Ordinary, vectors: np.ndarray | None, phases: tuple[int, int, int, int],
                  config: BeyondConfig = BeyondConfig()) -> dict[str, float]:
    """Expression AU -> how many times its regions' noise it moved once speech is taken out, for each AU whose rule
    passes on that motion by more than `config.snr` (empty without speech or the curve's region vectors).

    `vectors`: (T, R, 2) each region's motion vs frame 0 (IOD; Phases.vectors); `phases`: onset, apex, offset and
    the AU flow's reference frame."""
    if vectors is None or not any(e.kind == "speech" for e in ordinary.events) or not ordinary.signals:
        return {}
    onset, apex, offset, reference = phases
    residual = Separator(ordinary).residual(np.arange(len(vectors)), np.asarray(vectors, float))
    d = residual - residual[reference]
    noise = _noise(d, onset, offset, config.min_quiet)
    if noise is None:
        return {}
    by_region = dict(zip(REGION_NAMES, noise))
    out: dict[str, float] = {}
    for a in rules_on({name: (float(v[0]), float(v[1])) for name, v in zip(REGION_NAMES, d[apex])}):
        ratio = _ratio(a, by_region)
        if a.au in config.aus and a.evidence and ratio > config.snr:
            out[a.au] = round(float(ratio), 2)
    return out


def _ratio(a: AUEvidence, noise: dict[str, float]) -> float:
    """The AU's strength over the largest noise of the regions it fired in."""
    return a.strength_iod / max([*(noise[r] for r in a.evidence), REGION_FLOOR_IOD])
