"""Build Uni-MER instruction/answer pairs from grounded facts; each sentence names the facts behind it."""

from __future__ import annotations

import hashlib
import json
import random

from deft.instruct.facts import Fact, GroundedFacts
from deft.instruct.phrases import AU_SIDE_WORDS, MOTION_WORDS, join_words, moves_phrase, region_phrase
from deft.instruct.templates import INSTRUCTION_TYPES, load_templates
from deft.labels import PROTOTYPES, au_number, clip_key

# The fine emotion a contrast question asks about for each composite class.
CONTRAST_FINE = {"positive": "happiness", "surprise": "surprise", "negative": "disgust"}


def _motion(region: Fact) -> str:
    return MOTION_WORDS[region.data["direction"]]


def _au_text(g: GroundedFacts) -> str:
    return join_words([f"{g.facts[f'au:{au}'].data['au']} ({g.facts[f'au:{au}'].data['name']})" for au in g.supported_aus])


class _Writer:
    def __init__(self, g: GroundedFacts, templates: dict, rng: random.Random):
        self.g, self.t, self.rng = g, templates, rng
        self.sentences: list[dict] = []

    def say(self, kind: str, part: str, facts: list[str], **values) -> None:
        text = self.rng.choice(self.t[kind][part]).format(**values)
        self.sentences.append({"text": text, "facts": facts})

    def describe_motion(self) -> None:
        regions = self.g.of_kind("region")
        if not regions:
            self.say("describe_motion", "none", [])
        for r in sorted(regions, key=lambda r: -r.data["iod"]):
            lateral = f", {r.data['lateral']}" if r.data["lateral"] else ""
            self.say("describe_motion", "region", [r.id], phrase=r.data["phrase"], motion=_motion(r),
                     mean_px=r.data["mean_px"], iod=r.data["iod"], lateral=lateral)
        if regions:
            self.say("describe_motion", "timing", ["phases"], **self.g.facts["phases"].data)

    def name_aus(self) -> None:
        if not self.g.supported_aus:
            self.say("name_aus", "none", [])
        for au in self.g.supported_aus:
            fact = self.g.facts[f"au:{au}"]
            regions = [self.g.facts[f"region:{r}"] for r in fact.data["regions"]]
            side = AU_SIDE_WORDS.get(fact.data["side"], "")
            facts = [fact.id] + [r.id for r in regions]
            if len({r.data["direction"] for r in regions}) == 1:  # one motion for all: say it once
                self.say("name_aus", "au", facts, au=au, name=fact.data["name"], side=side,
                         regions=join_words([region_phrase(r.data["region"]) for r in regions]), motion=_motion(regions[0]))
            else:  # e.g. the two mouth corners move up and apart: each region with its own direction
                evidence = join_words([moves_phrase(r.data["region"], r.data["direction"]) for r in regions])
                self.say("name_aus", "au_mixed", facts, au=au, name=fact.data["name"], side=side, evidence=evidence)

    def classify_emotion(self) -> None:
        e = self.g.facts["emotion"].data
        self.say("classify_emotion", "verdict", ["emotion"], composite=e["composite"], fine=e["fine"])
        if self.g.supported_aus:
            self.say("classify_emotion", "reason", ["emotion"] + [f"au:{a}" for a in self.g.supported_aus],
                     aus_text=_au_text(self.g), fine=e["fine"])
        else:
            self.say("classify_emotion", "no_reason", ["emotion"])

    def structured(self) -> None:
        answer = {
            "aus": [{k: self.g.facts[f"au:{a}"].data[k] for k in ("au", "name", "side", "regions")} for a in self.g.supported_aus],
            "regions": {r.data["region"]: {"direction": r.data["direction"], "mean_px": r.data["mean_px"]}
                        for r in self.g.of_kind("region")},
            "phases": {k: self.g.facts["phases"].data[k] for k in ("onset", "apex", "offset")},
            "emotion": {k: self.g.facts["emotion"].data[k] for k in ("composite", "fine")},
        }
        self.sentences.append({"text": json.dumps(answer), "facts": sorted(self.g.facts)})

    def contrast(self, other: str) -> None:
        fine_other = CONTRAST_FINE[other]
        proto = sorted(PROTOTYPES[fine_other][0], key=au_number)
        self.say("contrast", "expected", [f"knowledge:{fine_other}"], other=other,
                 proto_text=join_words(proto))
        e = self.g.facts["emotion"].data
        if self.g.supported_aus:
            self.say("contrast", "actual", ["emotion"] + [f"au:{a}" for a in self.g.supported_aus],
                     aus_text=_au_text(self.g), fine=e["fine"], other=other)
        else:
            self.say("contrast", "actual_none", [])


def build_pairs(g: GroundedFacts, meta: dict, seed: int = 0, templates_path: str | None = None) -> list[dict]:
    """All instruction types for one clip; deterministic given (seed, clip id)."""
    templates = load_templates(templates_path)
    key = clip_key(meta["dataset"], meta["subject"], meta["clip_id"])
    # Phrasing is drawn by (seed, dataset, clip id), as before clip keys named the subject: sets
    # built earlier keep their wording.
    rng = random.Random(int(hashlib.sha256(f"{seed}:{meta['dataset']}/{meta['clip_id']}".encode()).hexdigest()[:12], 16))
    composite = g.facts["emotion"].data["composite"]
    records = []
    for kind in INSTRUCTION_TYPES:
        if (kind == "contrast" and composite not in CONTRAST_FINE) or (kind == "classify_emotion" and composite is None):
            continue  # composite None: MEGC 2019 leaves the label out (`others`; deft.labels)
        writer = _Writer(g, templates, rng)
        values = {}
        if kind == "contrast":
            values["other"] = rng.choice([c for c in CONTRAST_FINE if c != composite])
            writer.contrast(values["other"])
        else:
            getattr(writer, kind)()
        instruction = rng.choice(templates[kind]["instructions"]).format(**values)
        knowledge = {f"knowledge:{CONTRAST_FINE[values['other']]}": {
            "aus": sorted(PROTOTYPES[CONTRAST_FINE[values["other"]]][0]), "source": "EMFACS prototype"}} if values else {}
        records.append({
            "id": f"{key}#{kind}", **meta, "type": kind, "instruction": instruction,
            "answer": " ".join(s["text"] for s in writer.sentences), "sentences": writer.sentences,
            "facts": {**{k: {"kind": f.kind, "sources": f.sources, **f.data} for k, f in g.facts.items()}, **knowledge},
            "template_version": templates["version"], "seed": seed,
        })
    return records
