"""The vocabulary every stage shares: AUs, emotion labels, MEGC composite classes, questions, clip keys.

The one rule for `others`: MEGC 2019 (See et al., FG 2019) builds its composite database from
CASME II, SAMM and SMIC and leaves every "others"/"other" clip out, so `others` has NO composite
class anywhere in deft: dataset maps give None, the synthetic generator labels it None, the rule
classifier's `Emotion.label` is None, instruction builds ask no emotion question about it and
training leaves it out of the composite loss (its AUs and fine label still train).
"""

from __future__ import annotations

from collections.abc import Mapping

from deft.errors import DatasetError

# ---- Action Units (FACS Manual, Ekman, Friesen & Hager 2002) ------------------------------------

DETECTED_AUS = ("AU1", "AU2", "AU4", "AU6", "AU7", "AU9", "AU10", "AU12", "AU14", "AU15", "AU17", "AU25")
AU_NAMES = {
    "AU1": "inner brow raiser", "AU2": "outer brow raiser", "AU4": "brow lowerer", "AU6": "cheek raiser",
    "AU7": "lid tightener", "AU9": "nose wrinkler", "AU10": "upper lip raiser", "AU12": "lip corner puller",
    "AU14": "dimpler", "AU15": "lip corner depressor", "AU17": "chin raiser", "AU25": "lips part",
    "AU5": "upper lid raiser", "AU26": "jaw drop", "AU43": "eyes closed", "AU45": "blink", "AU46": "wink",
}
# Ordinary face motion (deft.ordinary): found from eyelid and lip landmarks and eye appearance over time,
# named, and never read as an expression by itself. AU25 is in both lists: lips part in speech and in surprise.
ORDINARY_AUS = ("AU5", "AU25", "AU26", "AU43", "AU45", "AU46")
# kind -> what it is; a clip's `ordinary.events` carry these kinds.
ORDINARY_KINDS = {
    "blink": "both eyes close and reopen (AU45)", "wink": "one eye closes and reopens (AU46)",
    "closed": "eyes held closed (AU43)", "widen": "eyes widened (AU5)", "jaw": "jaw dropped (AU26)",
    "speech": "talking: rhythmic lip and jaw motion (AU25, AU26)",
}


def au_number(au: str) -> int:
    """'AU12' -> 12: the sort key that keeps AU lists in FACS order."""
    return int(au[2:])


# ---- emotion labels ------------------------------------------------------------------------------

OTHERS = "others"  # AUs moved, but no prototype explains them (CASME II's and CAS(ME)³'s own word)
NONE = "none"  # deft's own: nothing moved
UNDETERMINED = "cannot tell"  # said instead of a label where no AU fired but one may have been missed
FINE_LABELS = ("happiness", "disgust", "repression", "surprise", "sadness", "fear", "anger", "contempt", OTHERS)
FINE_WITH_NONE = (*FINE_LABELS, NONE)  # the fine head's classes; the order is fixed by saved checkpoints
COMPOSITE_CLASSES = ("positive", "negative", "surprise")  # MEGC 2019
COMPOSITE_LABELS = (*COMPOSITE_CLASSES, NONE)  # the composite head's classes; order fixed by checkpoints
# Fine label -> MEGC 2019 class: happiness is positive, surprise stays surprise, the negative
# emotions merge; `others` has none (the rule above).
COMPOSITE: dict[str, str | None] = {
    "happiness": "positive", "surprise": "surprise", NONE: NONE, OTHERS: None,
    **{k: "negative" for k in ("disgust", "repression", "sadness", "fear", "anger", "contempt")},
}


def composite_of(fine: str) -> str | None:
    """The MEGC class of a fine label; None for `others`."""
    return COMPOSITE[fine]


def describe_emotion(composite: str | None, fine: str, inconclusive: bool = False) -> str:
    """'negative (disgust)'; 'no MEGC class (others)' for the label MEGC 2019 leaves out; with `inconclusive`
    (deft.detection_limit: no expression AU found where one could have been missed) no label at all."""
    if inconclusive:
        return f"{UNDETERMINED} (no expression found, but one may have been missed)"
    return f"{composite or 'no MEGC class'} ({fine})"


def said_emotion(emotion: Mapping | None, key: str = "fine", missing: str = "") -> str:
    """The word a short display shows for a JSON emotion block's `key` (label or fine): UNDETERMINED where it is
    inconclusive, `missing` where there is none."""
    if not emotion or key not in emotion:
        return missing
    return UNDETERMINED if emotion.get("inconclusive") else emotion[key] or "no MEGC class"


# Dataset words for fine labels: CAS(ME)³ says "happy"/"sad", SAMM "other". SMIC labels only the
# MEGC classes, so its positive/negative clips carry no fine label (its "surprise" is one).
FINE_SYNONYMS = {"happy": "happiness", "sad": "sadness", "other": OTHERS}


def fine_label(emotion: str) -> str | None:
    """A dataset's emotion word as one of FINE_WITH_NONE, or None when the word names no fine label."""
    word = emotion.strip().lower()
    word = FINE_SYNONYMS.get(word, word)
    return word if word in FINE_WITH_NONE else None


def fine_target(emotion: str, composite: str | None) -> str | None:
    """The fine head's target for a clip: its fine label, `none` when nothing moved, None when unknown."""
    return NONE if composite == NONE else fine_label(emotion)


# ---- prototypes ----------------------------------------------------------------------------------

# Fine label -> AU combinations that signal it, canonical first (EMFACS, Friesen & Ekman 1983;
# CASME II's coding for repression). Contempt is any unilateral AU12 / AU14 (CONTEMPT_AUS).
PROTOTYPES: dict[str, tuple[frozenset[str], ...]] = {
    "happiness": (frozenset({"AU6", "AU12"}), frozenset({"AU12"})),
    # Surprise also widens the eyes (AU5) and drops the jaw (AU26): ordinary AUs that complete it (deft.ordinary).
    "surprise": (frozenset({"AU1", "AU2", "AU25"}), frozenset({"AU1", "AU2"}), frozenset({"AU1", "AU2", "AU5"}),
                 frozenset({"AU1", "AU2", "AU26"}), frozenset({"AU1", "AU2", "AU5", "AU26"}),
                 frozenset({"AU1", "AU2", "AU25", "AU26"}), frozenset({"AU1", "AU2", "AU5", "AU25", "AU26"})),
    "fear": (frozenset({"AU1", "AU2", "AU4"}), frozenset({"AU1", "AU2", "AU4", "AU25"})),
    "sadness": (frozenset({"AU1", "AU4", "AU15"}), frozenset({"AU1", "AU15"}), frozenset({"AU1", "AU4"})),
    "anger": (frozenset({"AU4", "AU7"}),),
    "disgust": (frozenset({"AU9", "AU10"}), frozenset({"AU4", "AU9"}), frozenset({"AU9"}), frozenset({"AU10"})),
    "repression": (frozenset({"AU15", "AU17"}), frozenset({"AU14"}), frozenset({"AU17"}), frozenset({"AU15"})),
}
CONTEMPT_AUS = frozenset({"AU12", "AU14"})
UNILATERAL = frozenset({"contempt"})  # labels the generator renders on one side of the face


def _aus(prototype: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(prototype, key=au_number))


# Which prototypes the synthetic generator renders (indices into PROTOTYPES), in its draw order.
# Label order and draw order are the generator's: seeded sets render the clips they always did.
_RENDERED = {"happiness": (0, 1), "surprise": (1, 0), "disgust": (0, 1, 3), "sadness": (0, 1), "anger": (0,),
             "fear": (0,), "contempt": (), "repression": (1, 0, 2), NONE: ()}
RECIPES: dict[str, tuple[tuple[str, ...], ...]] = {
    label: tuple(_aus(PROTOTYPES[label][i]) for i in picks) for label, picks in _RENDERED.items()}
RECIPES["contempt"] = tuple((au,) for au in _aus(CONTEMPT_AUS))
RECIPES[NONE] = ((),)


def prototype_label(aus: tuple[str, ...] | frozenset[str], unilateral: bool) -> str:
    """The fine label whose prototype is exactly these AUs (`others` when none is)."""
    aus = frozenset(aus)
    if not aus:
        return NONE
    if unilateral and len(aus) == 1 and aus <= CONTEMPT_AUS:
        return "contempt"
    return next((label for label, protos in PROTOTYPES.items() if aus in protos), OTHERS)


# ---- MEGC 2019 maps per dataset ------------------------------------------------------------------

# Dataset label -> MEGC 2019 class, for EVERY label the dataset uses; None = left out of the
# protocol. Checked against public loaders: tvaranka/meb `experiments/utils/dataset_utils.py`
# (`megc()`: CASME II drops fear, sadness, others and maps disgust, repression to negative; SAMM
# drops "Other" and maps anger, contempt, disgust, fear, sadness to negative) and the CARF-Net
# registry (same sets; 147 CASME II / 133 SAMM clips). CAS(ME)³ is newer than MEGC 2019: its
# grouping (happy -> positive; disgust, fear, anger, sad -> negative; others left out) is the one
# that registry uses, not an official MEGC 2019 table. SMIC is labelled in the classes already.
_NEG = "negative"
MEGC2019: dict[str, dict[str, str | None]] = {
    "casme2": {"happiness": "positive", "surprise": "surprise", "disgust": _NEG, "repression": _NEG,
               "fear": None, "sadness": None, OTHERS: None},  # fear, sadness: too few clips for MEGC
    "samm": {"happiness": "positive", "surprise": "surprise",
             **{k: _NEG for k in ("anger", "contempt", "disgust", "fear", "sadness")}, "other": None, OTHERS: None},
    "smic": {k: k for k in COMPOSITE_CLASSES},
    "casme3": {"happy": "positive", "surprise": "surprise", **{k: _NEG for k in ("disgust", "fear", "anger", "sad")},
               OTHERS: None},
}
# A plain folder's free-form labels: every label some dataset maps (fear and sadness count as
# negative, as in SAMM); anything else, `others` included, has no class.
MEGC2019["folder"] = {k: v for table in MEGC2019.values() for k, v in table.items() if v is not None}


def megc_class(dataset: str, emotion: str) -> str | None:
    """The MEGC 2019 class of a dataset's emotion label, or None when the protocol leaves it out."""
    if dataset not in MEGC2019:
        raise DatasetError(f"no composite mapping for dataset {dataset!r}; known: {', '.join(MEGC2019)}")
    return MEGC2019[dataset].get(emotion.strip().lower())


def dataset_emotions(dataset: str) -> tuple[str, ...]:
    """Every emotion label a dataset's sheets use (lowercased)."""
    return tuple(MEGC2019[dataset])


# ---- questions -----------------------------------------------------------------------------------

# Both are instructions of the Uni-MER templates (deft/instruct/uni_mer/), so the model was
# trained on them word for word.
AU_QUESTION = "Which Action Units are active, and what is the evidence for each?"
EMOTION_QUESTION = "What emotion does this micro-expression most likely signal? Explain your reasoning."
DEFAULT_QUESTIONS = (AU_QUESTION, EMOTION_QUESTION)  # what `deft explain` asks


# ---- clip keys -----------------------------------------------------------------------------------

def clip_key(dataset: str, subject: str, clip_id: str) -> str:
    """A clip's key, unique across datasets: clip ids are only unique within (dataset, subject)."""
    return f"{dataset}/{subject}/{clip_id}"


def record_key(record: Mapping) -> str:
    """The clip key of a Uni-MER record or QC line (any mapping with dataset, subject, clip_id)."""
    return clip_key(record["dataset"], record["subject"], record["clip_id"])
