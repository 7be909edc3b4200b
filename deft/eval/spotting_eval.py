"""Spotting scored the MEGC way: a spotted interval is a hit when its IoU with a truth interval of the same
kind is >= 0.5 (one-to-one); F1 per kind (micro, macro) and overall from the summed counts. (Face-track
identity switches: benchmarks/bench_long.py's tracks part.)"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MEGC_IOU = 0.5
Span = tuple[int, int]  # (onset, offset) frames, offset inclusive


def iou(a: Span, b: Span) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if inter <= 0:
        return 0.0
    return inter / ((a[1] - a[0] + 1) + (b[1] - b[0] + 1) - inter)


def match(truth: Sequence[Span], pred: Sequence[Span], threshold: float = MEGC_IOU) -> list[tuple[int, int]]:
    """One-to-one (truth index, pred index) pairs with IoU >= threshold, best pairs first."""
    pairs = sorted(((iou(t, p), i, j) for i, t in enumerate(truth) for j, p in enumerate(pred)), reverse=True)
    used_t, used_p, out = set(), set(), []
    for score, i, j in pairs:
        if score < threshold:
            break
        if i not in used_t and j not in used_p:
            used_t.add(i)
            used_p.add(j)
            out.append((i, j))
    return sorted(out)


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: "Counts") -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn

    def to_dict(self) -> dict:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp + self.fp + self.fn else 1.0
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": round(p, 4), "recall": round(r, 4),
                "f1": round(f1, 4)}


def count(truth: Sequence[Span], pred: Sequence[Span], threshold: float = MEGC_IOU) -> Counts:
    hits = len(match(truth, pred, threshold))
    return Counts(hits, len(pred) - hits, len(truth) - hits)


def spotting_counts(truth: Iterable[dict], pred: Iterable[dict], kinds: Sequence[str] = ("micro", "macro"),
                    threshold: float = MEGC_IOU) -> dict[str, Counts]:
    """Counts per kind and "overall" for one face: dicts with onset, offset, kind (other kinds ignored)."""
    truth, pred = list(truth), list(pred)
    out = {"overall": Counts()}
    for kind in kinds:
        c = count([(t["onset"], t["offset"]) for t in truth if t["kind"] == kind],
                  [(p["onset"], p["offset"]) for p in pred if p["kind"] == kind], threshold)
        out[kind] = c
        out["overall"].add(c)
    return out
