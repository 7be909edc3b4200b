"""Score `deft analyze` on video files of known truth (the realistic world's clip sets, the old synthetic set).

One row per set: AU F1 on the AUs the analyzer can name, composite UF1/UAR, apex error, false positives
on distractor-only clips, clips/s. A clip the analyzer refuses (no face, too short, ...) counts as a
clip where nothing was found: no AUs, "none", apex missed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from deft.analyze import AnalyzeConfig, analyze
from deft.errors import DeftError
from deft.eval.metrics import mean_au_f1, megc_scored, uar, uf1
from deft.labels import DETECTED_AUS, NONE


@dataclass(frozen=True)
class Case:
    """One clip file and its truth."""

    path: str
    aus: frozenset[str]  # the expression's AUs ({} for a distractor-only clip)
    composite: str | None  # positive | negative | surprise | none; None (`others`) is not scored
    apex: int | None  # frame index of the expression's apex; None: distractor-only

    @property
    def distractor_only(self) -> bool:
        return self.apex is None


@dataclass
class SetScore:
    name: str
    n_clips: int
    n_failed: int  # clips the analyzer refused
    au_f1: float  # macro F1 over DETECTED_AUS present in the truth, every clip
    composite_uf1: float  # MEGC 2019 classes + none; a prediction of `others` (no class) is simply wrong
    composite_uar: float
    apex_median_abs: float  # median |predicted - true apex| in frames, expression clips analysed
    apex_within_2: float  # share of expression clips (refused ones count as misses) within +-2 frames
    fp_any_au: float  # share of distractor-only clips where any AU fired
    fp_emotion: float  # share of distractor-only clips not read as "none"
    clips_per_s: float  # analyze() throughput, reading the file included
    rows: list[dict] = field(repr=False, default_factory=list)


def analyze_cases(cases: list[Case], config: AnalyzeConfig = AnalyzeConfig()) -> tuple[list[dict], float]:
    """Run the analyzer on every case; returns one row per clip and the seconds spent analysing."""
    rows, seconds = [], 0.0
    for case in cases:
        start = time.perf_counter()
        try:
            result = analyze(case.path, config)
            pred_aus, pred, apex, error = {a.au for a in result.aus}, result.emotion.label, result.phases.apex, ""
        except DeftError as err:
            pred_aus, pred, apex, error = set(), NONE, None, f"{type(err).__name__}: {err}"
        seconds += time.perf_counter() - start
        rows.append({"case": case, "pred_aus": pred_aus, "pred": pred, "pred_apex": apex, "error": error})
    return rows, seconds


def score(name: str, rows: list[dict], seconds: float) -> SetScore:
    """The table row of one set."""
    cases = [r["case"] for r in rows]
    truth_aus = [set(c.aus) & set(DETECTED_AUS) for c in cases]
    pred_aus = [r["pred_aus"] for r in rows]
    truth, pred = megc_scored([c.composite for c in cases], [r["pred"] for r in rows])
    errors = [None if r["pred_apex"] is None else abs(r["pred_apex"] - r["case"].apex)
              for r in rows if not r["case"].distractor_only]
    measured = [e for e in errors if e is not None]
    probes = [r for r in rows if r["case"].distractor_only]
    return SetScore(
        name, len(rows), sum(bool(r["error"]) for r in rows), mean_au_f1(truth_aus, pred_aus, DETECTED_AUS),
        uf1(truth, pred), uar(truth, pred),
        float(np.median(measured)) if measured else float("nan"),
        float(np.mean([e is not None and e <= 2 for e in errors])) if errors else float("nan"),
        float(np.mean([bool(r["pred_aus"]) for r in probes])) if probes else float("nan"),
        float(np.mean([r["pred"] != NONE for r in probes])) if probes else float("nan"),
        len(rows) / seconds if seconds else float("nan"), rows,
    )
