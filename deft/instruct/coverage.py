"""Named-AU coverage: which fired expression AUs an answer about the clip's AUs leaves unnamed, and one backed
sentence naming each (its FACS name, side and measured regions, in the Uni-MER template's words), so a
"which AUs" answer that stops early still names every AU the analysis fired."""

from __future__ import annotations

import re

from deft.instruct.faithful import ClipFacts, check, claims
from deft.instruct.phrases import AU_SIDE_WORDS, MOTION_WORDS, join_words, moves_phrase
from deft.instruct.templates import load_templates
from deft.labels import AU_NAMES

# A question asking for the clip's AUs (deft explain's, the Uni-MER name_aus phrasings, the usual chat ones):
# "which/name/list ... AUs|action units|muscles", or "every/all (the) AU(s)".
ASKS_FOR_AUS = re.compile(r"\b(?:which|name|list)\b.*\b(?:AUs|action units|muscles)\b|"
                          r"\b(?:every|all)\s+(?:the\s+)?(?:AUs?|action units?|muscles?)\b", re.I | re.S)


def asks_for_aus(question: str) -> bool:
    return bool(ASKS_FOR_AUS.search(question))


def named_aus(text: str, facts: ClipFacts) -> set[str]:
    """The fired AUs the text names, backed (an AU named as absent does not count)."""
    return {c.fact["au"] for c in claims(text, facts) if c.kind == "au" and c.fact}


def _sentences(au: str, facts: ClipFacts) -> list[str]:
    """Ways to say that `au` fired, the fullest first: with each evidence region's measured direction,
    then the code, name and side alone."""
    entry = facts.aus[au]
    name, side = entry.get("name") or AU_NAMES.get(au, au), AU_SIDE_WORDS.get(entry.get("side"), "")
    regions = [facts.regions[r] for r in entry.get("evidence", ()) if r in facts.regions]
    moves = [moves_phrase(r["name"], r["direction"]) for r in regions if r.get("direction") in MOTION_WORDS]
    mixed = load_templates()["name_aus"]["au_mixed"][0]  # "{au} ({name}) is active{side}: {evidence}."
    return ([mixed.format(au=au, name=name, side=side, evidence=join_words(moves))] if moves else []) + [
        f"{au} ({name}) is active{side}.", f"{au} ({name}) is active."]


def missing(text: str, facts: ClipFacts) -> str:
    """Sentences naming each fired expression AU `text` (a whole answer) leaves unnamed, each backed in
    context (deft.instruct.faithful.check); "" when none is missing."""
    added = ""
    for au in facts.expression:
        if au in named_aus(text + added, facts):
            continue
        for sentence in _sentences(au, facts):
            joined = text + added + (" " if (text + added) and not (text + added)[-1].isspace() else "") + sentence
            if check(joined, facts, final=True).bad is None:
                added = joined[len(text):]
                break
    return added
