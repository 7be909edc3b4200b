"""AU confidence calibration against clips of known truth: rows, the fit, ECE tables and reliability diagrams.

Truth of an AU on a clip: it moved in some event of the clip (the expression's AUs, and the ordinary ones:
speech parts the lips, AU25), since a confidence says how likely the muscle moved, not what it meant.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from deft.analyze import Analysis
from deft.au_model import AU_REGIONS, AUModel, au_features, clip_motion, region_motion_iod
from deft.confidence import ORDINARY_TERMS, QUALITY_TERMS, Calibration, Covariates, clip_covariates, strength_terms
from deft.eval.metrics import expected_calibration_error, reliability_bins
from deft.eval.world_eval import Case
from deft.tracking import TrackQuality

# Ridge (inputs near unit scale), none on the per-AU intercepts; the strength slopes are shrunk harder than
# the rule-passed terms (each AU fires a few dozen times). Chosen by out-of-fold ECE and log loss on the
# calibration set (benchmarks/README).
L2_PASSED = 1.0
L2_SLOPE = 10.0
L2_CLIP = 1.0  # quality and ordinary-motion terms
NEWTON_STEPS = 40
# The learned model (deft.au_model): ridge on its standardised weights, none on the bias; chosen among 1-33 by
# identity-held-out AU F1 and ECE on the calibration set (benchmarks/README).
L2_MODEL = 3.0


@dataclass
class AURow:
    """One rule on one clip: what it measured, the clip's covariates, the confidence given, the truth."""

    au: str
    s: float  # strength term (deft.confidence.strength_terms)
    p: float  # pull term
    q: np.ndarray  # Covariates.vector(): for the tables of where the rules fail
    confidence: float  # as analysed (calibrated or not)
    rule_confidence: float  # the rule's own
    moved: bool
    fired: bool  # the rule's own test passed (it names evidence regions)
    group: str = ""  # identity, for folds that hold one out
    clip: str = ""
    reliable: bool = True  # the clip's verdict (deft.reliability), one of the model's inputs
    quality: TrackQuality | None = None  # the clip's, to judge it again under other limits without re-analysing
    covariates: Covariates | None = None
    x: np.ndarray | None = None  # deft.au_model.au_features (None: the clip's region vectors were not kept)


def moved_aus(case: Case) -> frozenset[str]:
    """AUs some event of a clip moves: its expression's and its ordinary motion's."""
    return case.aus | case.ordinary_aus


def au_rows(analysis: Analysis, moved: set[str], group: str = "") -> list[AURow]:
    """One row per rule of an analysed clip (`group`: its identity)."""
    kinds = analysis.ordinary.kinds() if analysis.ordinary is not None else set()
    cov = clip_covariates(analysis.quality, analysis.pose, analysis.phases, analysis.regions, kinds)
    q = cov.vector()
    ph = analysis.phases
    motion = (None if ph.vectors is None else clip_motion(region_motion_iod(analysis.regions, analysis.iod), ph.vectors,
                                                         (ph.onset, ph.apex, ph.offset, analysis.flow_reference)))
    return [AURow(a.au, *strength_terms(a), q, a.confidence, a.rule_score, a.au in moved,
                  bool(a.evidence), group, analysis.source, analysis.reliable, analysis.quality, cov,
                  None if motion is None or a.au not in AU_REGIONS else au_features(a, motion, cov, analysis.reliable))
            for a in analysis.all_aus]


def _design(rows: list[AURow], aus: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Columns (deft.confidence.Calibration): per AU intercept, passed, slope; the shared pull and strength on
    reliable clips; per ordinary term and AU; the quality terms; the quality terms of passed rules.
    Returns (x, ridge, monotone columns)."""
    k, nq, no = len(aus), len(QUALITY_TERMS), len(ORDINARY_TERMS)
    x = np.zeros((len(rows), 3 * k + 2 + no * k + 2 * nq))
    for i, r in enumerate(rows):
        j, t = aus.index(r.au), float(r.fired)
        x[i, [j, k + j, 2 * k + j, 3 * k, 3 * k + 1]] = 1.0, t, r.s, r.p, r.s * r.reliable
        for m, v in enumerate(r.covariates.ordinary().values()):
            x[i, 3 * k + 2 + m * k + j] = v
        q = r.covariates.terms(r.reliable)
        x[i, -2 * nq:] = np.concatenate([q, q * t])
    ridge = np.concatenate([np.zeros(k), np.full(k, L2_PASSED), np.full(k + 2, L2_SLOPE), np.full(no * k + 2 * nq, L2_CLIP)])
    monotone = np.zeros(x.shape[1], bool)
    monotone[2 * k:3 * k + 2] = True
    return x, ridge, monotone


def _newton(x: np.ndarray, y: np.ndarray, ridge: np.ndarray, free: np.ndarray) -> np.ndarray:
    """L2-regularised logistic regression weights over the `free` columns (the others held at 0)."""
    w = np.zeros(x.shape[1])
    xf = x[:, free]
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-np.clip(xf @ w[free], -60, 60)))
        grad = xf.T @ (p - y) + ridge[free] * w[free]
        hess = (xf * (p * (1 - p))[:, None]).T @ xf + np.diag(ridge[free] + 1e-9)
        w[free] -= np.linalg.solve(hess, grad)
    return w


def fit_calibration(rows: list[AURow], fitted_on: str = "", threshold: dict[str, float] | None = None) -> Calibration:
    """Logistic regression with the strength slopes and pull held >= 0: a column fitted negative is fixed at 0
    and the rest refitted, until none is (a few thousand rows, about a hundred weights)."""
    aus = sorted({r.au for r in rows})
    k, nq = len(aus), len(QUALITY_TERMS)
    x, ridge, monotone = _design(rows, aus)
    y = np.array([float(r.moved) for r in rows])
    free = np.ones(x.shape[1], bool)
    while True:
        w = _newton(x, y, ridge, free)
        negative = free & monotone & (w < 0)
        if not negative.any():
            break
        free &= ~negative
    r4 = lambda v: round(float(v), 4)
    per_au = [{au: r4(w[part * k + j]) for j, au in enumerate(aus)} for part in range(3)]
    ordinary = {name: {au: r4(w[3 * k + 2 + m * k + j]) for j, au in enumerate(aus)}
                for m, name in enumerate(ORDINARY_TERMS)}
    quality, passed = ({n: r4(v) for n, v in zip(QUALITY_TERMS, w[len(w) - (2 - part) * nq:][:nq])} for part in range(2))
    return Calibration(*per_au, r4(w[3 * k]), r4(w[3 * k + 1]), ordinary, quality, passed, dict(threshold or {}), fitted_on)


def apply(calibration: Calibration, rows: list[AURow]) -> list[float]:
    """The confidences deft analyze would report for rows under `calibration`."""
    return [calibration.confidence(r.au, r.s, r.p, r.fired, r.covariates, r.reliable) for r in rows]


def fit_au_model(rows: list[AURow], fitted_on: str = "", threshold: dict[str, float] | None = None,
                 ridge: float = L2_MODEL) -> AUModel:
    """Per AU, L2-regularised logistic regression on its rows' standardised features (AURow.x)."""
    mean, scale, weights, bias = {}, {}, {}, {}
    for au in sorted({r.au for r in rows if r.x is not None}):
        x = np.array([r.x for r in rows if r.au == au and r.x is not None])
        y = np.array([float(r.moved) for r in rows if r.au == au and r.x is not None])
        mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-6
        z = np.hstack([np.ones((len(x), 1)), (x - mu) / sd])
        w = _newton(z, y, np.r_[0.0, np.full(x.shape[1], ridge)], np.ones(z.shape[1], bool))
        mean[au], scale[au] = [round(float(v), 6) for v in mu], [round(float(v), 6) for v in sd]
        weights[au], bias[au] = [round(float(v), 6) for v in w[1:]], round(float(w[0]), 6)
    return AUModel(mean, scale, weights, bias, dict(threshold or {}), fitted_on=fitted_on)


def apply_model(model: AUModel, rows: list[AURow], calibrated: list[float]) -> list[float]:
    """The confidences deft analyze would report for rows under the learned `model`, given their `calibrated` ones."""
    return [model.confidence(r.au, r.x, c) if r.x is not None and model.knows(r.au) else c for r, c in zip(rows, calibrated)]


def reliability_text(confidence: list[float], outcome: list[bool], title: str) -> str:
    """The 10-bin reliability table and ECE as plain text."""
    lines = [f"{title}: ECE {expected_calibration_error(confidence, outcome):.4f} over {len(confidence)} (clip, AU) pairs",
             f"{'bin':>11} {'n':>6} {'mean conf':>9} {'observed':>8}"]
    for b in reliability_bins(confidence, outcome):
        lines.append(f"{b['lo']:.1f}-{b['hi']:.1f}   {b['n']:>6} {b['confidence']:>9.3f} {b['observed']:>8.3f}")
    return "\n".join(lines)


def reliability_diagram(curves: dict[str, tuple[list[float], list[bool]]], path: str | os.PathLike) -> None:
    """PNG: observed rate against mean confidence per bin, one line per named set, the diagonal for reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.plot([0, 1], [0, 1], color="#8e8e93", ls="--", lw=1, label="perfect")
    for name, (conf, outcome) in curves.items():
        bins = [b for b in reliability_bins(conf, outcome) if b["n"]]
        ece = expected_calibration_error(conf, outcome)
        ax.plot([b["confidence"] for b in bins], [b["observed"] for b in bins], marker="o", label=f"{name} (ECE {ece:.3f})")
    ax.set_xlabel("AU confidence (mean in bin)")
    ax.set_ylabel("share of (clip, AU) pairs where the AU moved")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=100)
    plt.close(fig)
