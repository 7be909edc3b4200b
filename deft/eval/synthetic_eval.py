"""Score `deft analyze` on synthetic clips of known truth: apex error, AU F1, composite UF1/UAR."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from deft.analyze import AnalyzeConfig, analyze_frames
from deft.data.synthetic import SyntheticSpec, render, synthetic_set
from deft.eval.metrics import au_f1, mean_au_f1, megc_scored, uar, uf1
from deft.labels import DETECTED_AUS, NONE
from deft.video import Video


@dataclass
class SyntheticReport:
    n_clips: int
    au_f1: float
    per_au_f1: dict[str, float]
    composite_uf1: float
    composite_uar: float
    fine_accuracy: float
    apex_within_2: float  # share of clips whose apex is within +-2 frames
    apex_errors: list[int] = field(repr=False, default_factory=list)
    rows: list[dict] = field(repr=False, default_factory=list)
    seconds_per_clip: float = 0.0


def evaluate_configs(specs: list[SyntheticSpec] | None, configs: Sequence[AnalyzeConfig]) -> list[SyntheticReport]:
    """One report per config, all on the same clips: each clip is rendered once (rendering costs several times
    what analysing does)."""
    specs = synthetic_set() if specs is None else specs
    rows: list[list[dict]] = [[] for _ in configs]
    elapsed = [0.0] * len(configs)
    for spec in specs:
        clip = render(spec)
        video = Video(clip.frames, 30.0, f"synthetic:{spec.seed}", "synthetic", (256, 256))
        for i, config in enumerate(configs):
            start = time.perf_counter()
            result = analyze_frames(video, config)
            elapsed[i] += time.perf_counter() - start
            rows[i].append({
                "truth_aus": set(clip.au_names), "pred_aus": {a.au for a in result.aus},
                "truth": clip.composite, "pred": result.emotion.label,
                "truth_fine": clip.emotion, "pred_fine": result.emotion.fine,
                "apex_error": result.phases.apex - spec.apex, "spec": spec,
            })
    return [_report(r, e) for r, e in zip(rows, elapsed)]


def evaluate(specs: list[SyntheticSpec] | None = None, config: AnalyzeConfig = AnalyzeConfig()) -> SyntheticReport:
    return evaluate_configs(specs, [config])[0]


def _report(rows: list[dict], elapsed: float) -> SyntheticReport:
    truth_aus = [r["truth_aus"] for r in rows]
    pred_aus = [r["pred_aus"] for r in rows]
    truth, pred = megc_scored([r["truth"] for r in rows], [r["pred"] for r in rows])
    errors = [r["apex_error"] for r in rows if r["truth"] != NONE]
    return SyntheticReport(
        len(rows), mean_au_f1(truth_aus, pred_aus, DETECTED_AUS), au_f1(truth_aus, pred_aus, DETECTED_AUS),
        uf1(truth, pred), uar(truth, pred), float(np.mean([r["truth_fine"] == r["pred_fine"] for r in rows])),
        float(np.mean([abs(e) <= 2 for e in errors])) if errors else 1.0, errors, rows, elapsed / max(len(rows), 1),
    )
