"""Emotion from Action Units: EMFACS-style prototypes, fine label and the MEGC composite class."""

from __future__ import annotations

from dataclasses import dataclass, replace

from deft.aus import AUEvidence
from deft.labels import (COMPOSITE, COMPOSITE_CLASSES, COMPOSITE_LABELS, CONTEMPT_AUS, NONE, ORDINARY_AUS, OTHERS,
                         PROTOTYPES, au_number, describe_emotion)

EXTRA_AU_PENALTY = 0.2  # score lost per fired AU outside a prototype


@dataclass
class Emotion:
    """The emotion block of `deft analyze`. `inconclusive` (deft.detection_limit): no expression AU fired, but
    in this clip one could have been missed. The labels then stay as the AUs read them (`none`: no expression AU
    was found; the benchmarks and the instruction builders compare them with a clip's truth) while the scores claim nothing:
    equal over the composite labels, `none` included, since the face gave no evidence either way."""

    label: str | None  # composite: positive | negative | surprise | none; None for `others` (deft.labels)
    fine: str  # one of deft.labels.FINE_LABELS, or "none"
    scores: dict[str, float]  # composite label -> score (sums to 1)
    fine_scores: dict[str, float]  # fine label -> prototype match (0..1)
    matched: list[str]  # the prototype AUs behind the fine label
    inconclusive: bool = False

    def describe(self) -> str:
        return describe_emotion(self.label, self.fine, self.inconclusive)

    def to_dict(self) -> dict:
        return {
            "label": self.label, "fine": self.fine, "scores": {k: round(v, 3) for k, v in self.scores.items()},
            "fine_scores": {k: round(v, 3) for k, v in self.fine_scores.items()}, "matched": self.matched,
            "inconclusive": self.inconclusive,
        }


def undetermined(emotion: Emotion) -> Emotion:
    """`emotion` where no AU was found but one may have been missed: scores that claim no class."""
    return replace(emotion, scores={k: 1.0 / len(COMPOSITE_LABELS) for k in COMPOSITE_LABELS}, inconclusive=True)


def _match(prototype: frozenset[str], conf: dict[str, float], fired: set[str]) -> float:
    """Mean confidence of the prototype's AUs, less a penalty per fired AU it does not explain."""
    covered = sum(conf.get(au, 0.0) for au in prototype) / len(prototype)
    return max(0.0, covered - EXTRA_AU_PENALTY * len(fired - prototype))


def classify_emotion(aus: list[AUEvidence], support: frozenset[str] = frozenset()) -> Emotion:
    """Fine and composite emotion from the fired AUs; `none` when no expression AU fired (only ordinary ones,
    such as AU25 lips part, or none), label None for `others`.

    `support`: ordinary AUs under way during the expression (AU5 widened eyes, AU26 jaw drop; deft.ordinary).
    They complete the prototypes that include them (surprise) but are never an expression by themselves
    nor count against a prototype that lacks them. A prototype's AUs that did not fire still add their
    confidence to its match, but `matched` names only those that fired or are supported.
    """
    # A one-sided AU12 / AU14 is a smirk, not a smile: it counts half towards the symmetric prototypes.
    conf = {a.au: a.confidence * (0.5 if a.au in CONTEMPT_AUS and a.side in ("left", "right") else 1.0) for a in aus}
    conf |= {au: 1.0 for au in support}
    fired = {a.au for a in aus if a.fired}
    if not fired - set(ORDINARY_AUS):  # parted lips alone are talking, not surprise filled in by unfired brows
        return Emotion(NONE, NONE, {**{k: 0.0 for k in COMPOSITE_CLASSES}, NONE: 1.0}, {}, [])
    fine_scores: dict[str, float] = {}
    best_proto: dict[str, frozenset[str]] = {}
    for label, protos in PROTOTYPES.items():
        scored = [(_match(p, conf, fired), p) for p in protos]
        fine_scores[label], best_proto[label] = max(scored, key=lambda x: (x[0], len(x[1])))
    unilateral = [a for a in aus if a.au in CONTEMPT_AUS and a.fired and a.side in ("left", "right")]
    if unilateral and fired <= CONTEMPT_AUS | {"AU6"}:
        fine_scores["contempt"] = max(a.confidence for a in unilateral) - EXTRA_AU_PENALTY * len(fired - CONTEMPT_AUS)
        best_proto["contempt"] = frozenset(a.au for a in unilateral)
    fine = max(fine_scores, key=fine_scores.get)
    if fine_scores[fine] < 0.5:  # no prototype explains the fired AUs well
        fine, matched = OTHERS, sorted(fired)
    else:
        matched = sorted(best_proto[fine] & (fired | support), key=au_number)
    composite_raw = {k: 0.0 for k in COMPOSITE_CLASSES}
    for label, score in fine_scores.items():
        composite_raw[COMPOSITE[label]] = max(composite_raw[COMPOSITE[label]], score)
    total = sum(composite_raw.values()) or 1.0
    scores = {k: v / total for k, v in composite_raw.items()} | {NONE: 0.0}
    return Emotion(COMPOSITE[fine], fine, scores, fine_scores, sorted(matched, key=au_number))
