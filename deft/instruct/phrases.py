"""Words for regions and directions, shared by the builders and the claim checker."""

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
AU_PATTERN = re.compile(r"\bAU\s?(\d{1,2})\b", re.I)
MOTION_WORDS = {"up": "upward", "down": "downward", "left": "to the image left", "right": "to the image right",
                "up-left": "up and to the image left", "up-right": "up and to the image right",
                "down-left": "down and to the image left", "down-right": "down and to the image right"}
