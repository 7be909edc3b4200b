"""Claim checker: which AUs and regions a text names, and whether the evidence backs them.

Used on built answers (every sentence's claims must sit inside the facts it cites) and, later, on
generated explanations (rationale faithfulness: precision and recall against measured evidence).
"""

from __future__ import annotations

from dataclasses import dataclass

from deft.instruct.phrases import AU_PATTERN, REGION_PATTERNS


def named_aus(text: str) -> set[str]:
    return {f"AU{int(n)}" for n in AU_PATTERN.findall(text)}


def named_regions(text: str) -> set[str]:
    """Region names a text mentions; sideless phrases ('mouth corner') match neither side here."""
    found, rest = set(), text
    for name, pattern in REGION_PATTERNS:
        if pattern.search(rest):
            found.add(name)
            rest = pattern.sub(" ", rest)
    return found


@dataclass
class Faithfulness:
    named: set[str]  # AUs and regions the text names
    supported: set[str]  # of those, the ones the evidence backs
    evidence: set[str]  # what the evidence holds
    precision: float  # supported / named (1 when nothing is named)
    recall: float  # named-and-supported / evidence (1 when evidence is empty)

    @property
    def unsupported(self) -> set[str]:
        return self.named - self.supported


def faithfulness(text: str, evidence_aus: set[str], evidence_regions: set[str]) -> Faithfulness:
    named = named_aus(text) | named_regions(text)
    evidence = set(evidence_aus) | set(evidence_regions)
    supported = named & evidence
    return Faithfulness(named, supported, evidence, len(supported) / len(named) if named else 1.0,
                        len(supported) / len(evidence) if evidence else 1.0)


def unbacked_claims(record: dict) -> list[str]:
    """Claims in a built record's sentences that none of the sentence's cited facts hold (empty = clean)."""
    problems = []
    facts = record["facts"]
    for sentence in record["sentences"]:
        allowed: set[str] = set()
        for fid in sentence["facts"]:
            fact = facts.get(fid)
            if fact is None:
                problems.append(f"{record['id']}: cites unknown fact {fid}")
                continue
            allowed |= set(fact.get("aus", [])) | set(fact.get("regions", []))
            for key in ("au", "region"):
                if key in fact:
                    allowed.add(fact[key])
        claimed = named_aus(sentence["text"]) | named_regions(sentence["text"])
        problems += [f"{record['id']}: '{c}' is not backed by {sentence['facts']}" for c in sorted(claimed - allowed)]
    return problems
