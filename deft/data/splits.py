"""MEGC 2019 composite classes per dataset, and leave-one-subject-out splits.

MEGC 2019 (See et al., FG 2019) merges CASME II, SAMM and SMIC into positive / negative / surprise.
Checked against public loaders: tvaranka/meb `experiments/utils/dataset_utils.py` (`megc()`:
CASME II drops fear, sadness, others and maps disgust, repression to negative; SAMM drops
"Other" and maps Anger, Contempt, Disgust, Fear, Sadness to negative) and the CARF-Net registry
(same sets; 147 CASME II / 133 SAMM clips). CAS(ME)³ is newer than MEGC 2019: its three-class
grouping (happy -> positive; disgust, fear, anger, sad -> negative; others dropped) is the one
that registry uses, not an official MEGC 2019 table.
"""

from __future__ import annotations

from collections.abc import Iterable

from deft.data.records import ClipRecord, DatasetError

COMPOSITE_CLASSES = ("positive", "negative", "surprise")

_NEGATIVE = "negative"
MEGC2019: dict[str, dict[str, str]] = {
    # excluded: others, fear, sadness
    "casme2": {"happiness": "positive", "surprise": "surprise", "disgust": _NEGATIVE, "repression": _NEGATIVE},
    # excluded: other
    "samm": {"happiness": "positive", "surprise": "surprise",
             **{k: _NEGATIVE for k in ("anger", "contempt", "disgust", "fear", "sadness")}},
    # SMIC is labelled in the composite classes already
    "smic": {k: k for k in COMPOSITE_CLASSES},
    # excluded: others
    "casme3": {"happy": "positive", "surprise": "surprise",
               **{k: _NEGATIVE for k in ("disgust", "fear", "anger", "sad")}},
}
# A plain folder's free-form labels: the union of the above (fear and sadness count as negative,
# as in SAMM); "other(s)" stays excluded.
MEGC2019["folder"] = {k: v for table in MEGC2019.values() for k, v in table.items()}


def composite_class(dataset: str, emotion: str) -> str | None:
    """The MEGC 2019 class of a dataset's emotion label, or None when the protocol excludes it."""
    if dataset not in MEGC2019:
        raise DatasetError(f"no composite mapping for dataset {dataset!r}; known: {', '.join(MEGC2019)}")
    return MEGC2019[dataset].get(emotion.strip().lower())


def loso_splits(records: Iterable[ClipRecord]) -> list[tuple[str, list[ClipRecord], list[ClipRecord]]]:
    """Leave-one-subject-out folds: (test subject, train records, test records), one per subject.

    Subjects are namespaced by dataset ("casme2/sub01", "samm/006"), so equal names in two datasets
    are two people. Folds come in sorted subject order; records keep their input order.
    """
    records = list(records)
    subjects = sorted({r.subject_key for r in records})
    return [(s, [r for r in records if r.subject_key != s], [r for r in records if r.subject_key == s])
            for s in subjects]
