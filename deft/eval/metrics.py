"""MEGC metrics (UF1, UAR) and per-AU F1; they score any list of predictions against truth."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def per_class_f1(truth: Sequence[str], pred: Sequence[str], labels: Iterable[str]) -> dict[str, float]:
    out = {}
    for c in labels:
        tp = sum(t == c and p == c for t, p in zip(truth, pred))
        fp = sum(t != c and p == c for t, p in zip(truth, pred))
        fn = sum(t == c and p != c for t, p in zip(truth, pred))
        out[c] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    return out


def megc_scored(truth: Sequence[str | None], pred: Sequence[str | None]) -> tuple[list[str], list[str | None]]:
    """The (truth, pred) pairs MEGC 2019 scores: clips whose truth has a class (`others` has none)."""
    kept = [(t, p) for t, p in zip(truth, pred) if t is not None]
    return [t for t, _ in kept], [p for _, p in kept]


def uf1(truth: Sequence[str], pred: Sequence[str], labels: Iterable[str] | None = None) -> float:
    """Unweighted F1 (MEGC 2019): mean of per-class F1 over the classes present in the truth."""
    labels = sorted(set(truth)) if labels is None else list(labels)
    scores = per_class_f1(truth, pred, labels)
    return sum(scores.values()) / len(scores)


def uar(truth: Sequence[str], pred: Sequence[str], labels: Iterable[str] | None = None) -> float:
    """Unweighted average recall (MEGC 2019): mean of per-class recall over the classes in the truth."""
    labels = sorted(set(truth)) if labels is None else list(labels)
    recalls = []
    for c in labels:
        n = sum(t == c for t in truth)
        if n:
            recalls.append(sum(t == c and p == c for t, p in zip(truth, pred)) / n)
    return sum(recalls) / len(recalls)


def au_f1(truth: Sequence[set[str]], pred: Sequence[set[str]], aus: Iterable[str]) -> dict[str, float]:
    """F1 per AU over clips (multi-label); an AU never present nor predicted scores 1."""
    out = {}
    for au in aus:
        tp = sum(au in t and au in p for t, p in zip(truth, pred))
        fp = sum(au not in t and au in p for t, p in zip(truth, pred))
        fn = sum(au in t and au not in p for t, p in zip(truth, pred))
        out[au] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    return out


def mean_au_f1(truth: Sequence[set[str]], pred: Sequence[set[str]], aus: Iterable[str]) -> float:
    """Macro AU F1 over the AUs that occur in the truth."""
    present = [au for au in aus if any(au in t for t in truth)]
    scores = au_f1(truth, pred, present)
    return sum(scores.values()) / len(scores) if scores else 1.0


def reliability_bins(confidence: Sequence[float], outcome: Sequence[bool], n_bins: int = 10) -> list[dict]:
    """Equal-width confidence bins over [0, 1] (the last one closed): count, mean confidence, observed rate."""
    rows = []
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        inside = [(c, o) for c, o in zip(confidence, outcome) if lo <= c < hi or (b == n_bins - 1 and c == hi)]
        n = len(inside)
        rows.append({"lo": lo, "hi": hi, "n": n, "confidence": sum(c for c, _ in inside) / n if n else float("nan"),
                     "observed": sum(bool(o) for _, o in inside) / n if n else float("nan")})
    return rows


def expected_calibration_error(confidence: Sequence[float], outcome: Sequence[bool], n_bins: int = 10) -> float:
    """ECE: sum over bins of (share of predictions in the bin) x |mean confidence - observed rate|."""
    total = len(confidence)
    if not total:
        return float("nan")
    return sum(r["n"] / total * abs(r["confidence"] - r["observed"]) for r in reliability_bins(confidence, outcome, n_bins) if r["n"])
