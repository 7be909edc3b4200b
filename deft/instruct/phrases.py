"""Words for regions and directions: one table, shared by the builders (what they write) and the claim
checker (what it reads)."""

from __future__ import annotations

import re

from deft.motion.regions import REGION_NAMES

REGION_BASES = {
    "inner_brow": "inner brow", "outer_brow": "outer brow", "glabella": "glabella (between the brows)",
    "upper_eyelid": "upper eyelid", "lower_eyelid": "lower eyelid", "cheek": "cheek", "nose_wing": "nose wing",
    "upper_lip": "upper lip", "mouth_corner": "mouth corner", "lower_lip": "lower lip", "chin": "chin",
}


def region_phrase(name: str) -> str:
    """'mouth_corner_left' -> 'left mouth corner' (the subject's left, as FACS counts sides)."""
    for side in ("left", "right"):
        if name.endswith(f"_{side}"):
            return f"{side} {REGION_BASES[name[: -len(side) - 1]]}"
    return REGION_BASES[name]


def _pattern(name: str) -> str:
    words = region_phrase(name).split(" (")[0].split()
    return r"\b" + r"\s+".join(map(re.escape, words)) + r"s?\b"


# Longest phrases first so "left mouth corner" is not also read as "mouth corner".
REGION_PATTERNS = sorted(((name, re.compile(_pattern(name), re.I)) for name in REGION_NAMES),
                         key=lambda p: -len(p[1].pattern))
# What else a reader calls a region (regex words, a plural "s" allowed): the claim checker reads them, sides unsaid.
REGION_SYNONYMS = {"lip corner": ["mouth_corner"], "corners? of the mouth": ["mouth_corner"],
                   "(?:eye)?brow": ["inner_brow", "outer_brow"], "eyelid": ["upper_eyelid", "lower_eyelid"],
                   "lid": ["upper_eyelid", "lower_eyelid"], "lip": ["upper_lip", "lower_lip"],
                   "mouth": ["mouth_corner", "upper_lip", "lower_lip"]}
# Region words without a side -> the regions they cover: each region's own name first, then the synonyms.
SIDELESS_PATTERNS = [(re.compile(r"\b" + r"\s+".join(map(re.escape, phrase.split(" (")[0].split())) + r"s?\b", re.I), [base])
                     for base, phrase in REGION_BASES.items()]
SIDELESS_PATTERNS += [(re.compile(rf"\b{word}s?\b", re.I), bases) for word, bases in REGION_SYNONYMS.items()]
AU_PATTERN = re.compile(r"\bAU\s?(\d{1,2})\b", re.I)
IMAGE_SIDE = "to the image"  # + left/right: sideways motion as the image shows it (not the subject's side)
MOTION_WORDS = {"up": "upward", "down": "downward", "left": f"{IMAGE_SIDE} left", "right": f"{IMAGE_SIDE} right",
                "up-left": f"up and {IMAGE_SIDE} left", "up-right": f"up and {IMAGE_SIDE} right",
                "down-left": f"down and {IMAGE_SIDE} left", "down-right": f"down and {IMAGE_SIDE} right"}
AU_SIDE_WORDS = {"left": " on the left side", "right": " on the right side"}  # after "AUn (name) is active"


def join_words(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def moves_phrase(region: str, direction: str) -> str:
    """'the left mouth corner moves upward': one region with its measured direction."""
    return f"the {region_phrase(region)} moves {MOTION_WORDS[direction]}"
