"""Emotion from Action Units: EMFACS-style prototypes, fine label and the MEGC composite class."""

from __future__ import annotations

from dataclasses import dataclass

from deft.aus import AUEvidence

# Fine label -> AU combinations that signal it, strongest first (EMFACS, Friesen & Ekman 1983;
# CASME II's coding for repression). Contempt is any unilateral AU12 / AU14.
PROTOTYPES: dict[str, tuple[frozenset[str], ...]] = {
    "happiness": (frozenset({"AU6", "AU12"}), frozenset({"AU12"})),
    "surprise": (frozenset({"AU1", "AU2", "AU25"}), frozenset({"AU1", "AU2"})),
    "fear": (frozenset({"AU1", "AU2", "AU4"}), frozenset({"AU1", "AU2", "AU4", "AU25"})),
    "sadness": (frozenset({"AU1", "AU4", "AU15"}), frozenset({"AU1", "AU15"}), frozenset({"AU1", "AU4"})),
    "anger": (frozenset({"AU4", "AU7"}),),
    "disgust": (frozenset({"AU9", "AU10"}), frozenset({"AU4", "AU9"}), frozenset({"AU9"}), frozenset({"AU10"})),
    "repression": (frozenset({"AU15", "AU17"}), frozenset({"AU14"}), frozenset({"AU17"}), frozenset({"AU15"})),
}
CONTEMPT_AUS = frozenset({"AU12", "AU14"})
FINE_LABELS = ("happiness", "disgust", "repression", "surprise", "sadness", "fear", "anger", "contempt", "others")
# MEGC 2019 composite classes (See et al., MEGC 2019): happiness is positive; surprise stays
# surprise; the negative emotions merge. "none" is deft's own: nothing moved.
COMPOSITE = {"happiness": "positive", "surprise": "surprise", **{
    k: "negative" for k in ("disgust", "repression", "sadness", "fear", "anger", "contempt", "others")}}
COMPOSITE_LABELS = ("positive", "negative", "surprise", "none")
EXTRA_AU_PENALTY = 0.2  # score lost per fired AU outside a prototype


@dataclass
class Emotion:
    label: str  # composite: positive | negative | surprise | none
    fine: str  # one of FINE_LABELS, or "none"
    scores: dict[str, float]  # composite label -> score (sums to 1)
    fine_scores: dict[str, float]  # fine label -> prototype match (0..1)
    matched: list[str]  # the prototype AUs behind the fine label

    def to_dict(self) -> dict:
        return {
            "label": self.label, "fine": self.fine, "scores": {k: round(v, 3) for k, v in self.scores.items()},
            "fine_scores": {k: round(v, 3) for k, v in self.fine_scores.items()}, "matched": self.matched,
        }


def _match(prototype: frozenset[str], conf: dict[str, float], fired: set[str]) -> float:
    """Mean confidence of the prototype's AUs, less a penalty per fired AU it does not explain."""
    covered = sum(conf.get(au, 0.0) for au in prototype) / len(prototype)
    return max(0.0, covered - EXTRA_AU_PENALTY * len(fired - prototype))


def classify_emotion(aus: list[AUEvidence]) -> Emotion:
    """Fine and composite emotion from the fired AUs; `none` when no AU fired."""
    # A one-sided AU12 / AU14 is a smirk, not a smile: it counts half towards the symmetric prototypes.
    conf = {a.au: a.confidence * (0.5 if a.au in CONTEMPT_AUS and a.side in ("left", "right") else 1.0) for a in aus}
    fired = {a.au for a in aus if a.confidence >= 0.5}
    if not fired:
        return Emotion("none", "none", {**{k: 0.0 for k in COMPOSITE_LABELS[:3]}, "none": 1.0}, {}, [])
    fine_scores: dict[str, float] = {}
    best_proto: dict[str, frozenset[str]] = {}
    for label, protos in PROTOTYPES.items():
        scored = [(_match(p, conf, fired), p) for p in protos]
        fine_scores[label], best_proto[label] = max(scored, key=lambda x: (x[0], len(x[1])))
    unilateral = [a for a in aus if a.au in CONTEMPT_AUS and a.confidence >= 0.5 and a.side in ("left", "right")]
    if unilateral and fired <= CONTEMPT_AUS | {"AU6"}:
        fine_scores["contempt"] = max(a.confidence for a in unilateral) - EXTRA_AU_PENALTY * len(fired - CONTEMPT_AUS)
        best_proto["contempt"] = frozenset(a.au for a in unilateral)
    fine = max(fine_scores, key=fine_scores.get)
    if fine_scores[fine] < 0.5:  # no prototype explains the fired AUs well
        fine, matched = "others", sorted(fired)
    else:
        matched = sorted(best_proto[fine], key=lambda a: int(a[2:]))
    composite_raw = {k: 0.0 for k in COMPOSITE_LABELS[:3]}
    for label, score in fine_scores.items():
        composite_raw[COMPOSITE[label]] = max(composite_raw[COMPOSITE[label]], score)
    total = sum(composite_raw.values()) or 1.0
    scores = {k: v / total for k, v in composite_raw.items()} | {"none": 0.0}
    return Emotion(COMPOSITE[fine], fine, scores, fine_scores, sorted(matched, key=lambda a: int(a[2:])))
