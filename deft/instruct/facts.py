"""Grounded facts of a clip: what its labels AND its measured motion both support (the dual constraint)."""

from __future__ import annotations

from dataclasses import dataclass, field

from deft.analyze import Analysis
from deft.aus import AU_NAMES, MOTION_THRESHOLD_IOD
from deft.labels import fine_label
from deft.instruct.phrases import region_phrase

# A labelled AU counts as supported by motion when its rule sees at least this share of the
# detection threshold along the muscle's pull: labels are trusted for weak but present motion.
SUPPORT_SHARE = 0.5
# A detected AU that the labels lack is flagged when it is this many thresholds strong.
UNLABELLED_SHARE = 2.0


@dataclass
class ClipLabels:
    """What a dataset (or the synthetic generator) says about a clip."""

    aus: set[str]
    emotion: str  # fine label
    composite: str | None  # MEGC class, None when the protocol excludes the clip


@dataclass
class Fact:
    id: str  # "au:AU12", "region:mouth_corner_left", "emotion", "phases"
    kind: str
    data: dict
    sources: list[str]  # "label", "motion"


@dataclass
class GroundedFacts:
    facts: dict[str, Fact]
    supported_aus: list[str]  # labelled and moved, strongest first
    unsupported_labels: list[str]  # labelled AUs whose regions did not move
    unlabelled_motion: list[str]  # strong detected AUs the labels lack
    notes: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Fact]:
        return [f for f in self.facts.values() if f.kind == kind]


def ground(analysis: Analysis, labels: ClipLabels, fired_only: bool = False) -> GroundedFacts:
    """Keep only claims both sources back: labelled AUs with motion in their regions, and those regions.

    `fired_only`: a labelled AU counts only when the analysis reports it (its calibrated firing), and any
    reported AU the labels lack is flagged: the answers then name exactly what the answer guard allows.
    """
    rules = {a.au: a for a in analysis.all_aus}
    fired = {a.au for a in analysis.aus}
    regions = {r.name: r for r in analysis.regions}
    facts: dict[str, Fact] = {}
    supported, unsupported = [], []
    for au in sorted(labels.aus, key=lambda a: -(rules[a].pull_iod if a in rules else 0.0)):
        rule = rules.get(au)
        if rule is None:
            unsupported.append(au)  # deft has no motion rule for this AU: it cannot be checked
            continue
        if (au not in fired) if fired_only else rule.pull_iod < SUPPORT_SHARE * MOTION_THRESHOLD_IOD:
            unsupported.append(au)
            continue
        evidence = rule.evidence or rule.regions
        supported.append(au)
        facts[f"au:{au}"] = Fact(f"au:{au}", "au", {
            "au": au, "name": AU_NAMES[au], "side": rule.side, "pull_iod": round(rule.pull_iod, 4),
            "regions": evidence}, ["label", "motion"])
        for name in evidence:
            r = regions[name]
            facts.setdefault(f"region:{name}", Fact(f"region:{name}", "region", {
                "region": name, "phrase": region_phrase(name), "direction": r.direction, "lateral": r.lateral,
                "mean_px": round(r.mean_magnitude, 2), "peak_px": round(r.peak_magnitude, 2),
                "iod": round(r.mean_iod, 4), "aus": []}, ["motion"]))
            facts[f"region:{name}"].data["aus"].append(au)
    unlabelled = [a.au for a in analysis.aus if a.au not in labels.aus
                  and (fired_only or a.strength_iod >= UNLABELLED_SHARE * MOTION_THRESHOLD_IOD)]
    facts["emotion"] = Fact("emotion", "emotion", {
        "fine": fine_label(labels.emotion) or labels.emotion, "composite": labels.composite, "aus": supported}, ["label"])
    ph = analysis.phases
    facts["phases"] = Fact("phases", "phases", {"onset": ph.onset, "apex": ph.apex, "offset": ph.offset,
                                                "fps": analysis.fps}, ["motion" if ph.source == "spotted" else "label"])
    return GroundedFacts(facts, supported, unsupported, unlabelled)
