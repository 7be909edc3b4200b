"""Leave-one-subject-out splits; the MEGC 2019 class of each clip comes from deft.labels.MEGC2019."""

from __future__ import annotations

from collections.abc import Iterable

from deft.data.records import ClipRecord


def loso_splits(records: Iterable[ClipRecord]) -> list[tuple[str, list[ClipRecord], list[ClipRecord]]]:
    """Leave-one-subject-out folds: (test subject, train records, test records), one per subject.

    Subjects are namespaced by dataset ("casme2/sub01", "samm/006"), so equal names in two datasets
    are two people. Folds come in sorted subject order; records keep their input order. Clips the
    MEGC protocol leaves out (composite None) stay in: filter them where a metric needs it.
    """
    records = list(records)
    subjects = sorted({r.subject_key for r in records})
    return [(s, [r for r in records if r.subject_key != s], [r for r in records if r.subject_key == s])
            for s in subjects]
