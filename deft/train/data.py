"""Training folders made by `deft build-instructions --features`: clips, labels, features, records."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from deft.errors import ConfigError
from deft.instruct.build import INSTRUCTIONS_FILE, QC_FILE, features_path
from deft.labels import record_key
from deft.model.features import ClipFeatures


@dataclass
class Clip:
    key: str  # deft.labels.clip_key
    subject: str
    aus: set[str]
    emotion: str  # fine
    composite: str | None  # None: MEGC 2019 leaves the label out (`others`); no composite loss
    detected: dict[str, list[str]]  # AU -> evidence regions measured by deft analyze
    features: ClipFeatures = field(repr=False)


@dataclass
class TrainingSet:
    clips: list[Clip]
    records: list[dict]  # Uni-MER records of those clips

    @property
    def subjects(self) -> list[str]:
        return sorted({c.subject for c in self.clips})

    def subset(self, keys: set[str]) -> "TrainingSet":
        return TrainingSet([c for c in self.clips if c.key in keys],
                           [r for r in self.records if record_key(r) in keys])


def load_training_set(folder: str | Path) -> TrainingSet:
    folder = Path(folder)
    qc_file = folder / QC_FILE
    if not qc_file.exists():
        raise ConfigError(f"{folder}: no {QC_FILE}; build it with `deft build-instructions SOURCE --out {folder} --features`")
    clips = []
    for line in qc_file.read_text().splitlines():
        qc = json.loads(line)
        if not qc.get("kept"):
            continue
        path = features_path(folder, qc["dataset"], qc["subject"], qc["clip_id"])
        if not path.exists():  # also a folder built before feature files named the subject
            raise ConfigError(f"{path}: features missing; rebuild into a new folder with --features")
        with np.load(path) as data:
            features = ClipFeatures.from_npz(data)
        labels = qc["labels"]
        clips.append(Clip(record_key(qc), qc["subject"], set(labels["aus"]), labels["emotion"], labels["composite"],
                          qc.get("detected", {}), features))
    keys = {c.key for c in clips}
    records = [json.loads(x) for x in (folder / INSTRUCTIONS_FILE).read_text().splitlines()]
    return TrainingSet(clips, [r for r in records if record_key(r) in keys])


def load_training_sets(folders: Sequence[str | Path]) -> TrainingSet:
    """Several built folders as one training set (e.g. synthetic and world); a clip in two of them is an error."""
    sets = [load_training_set(f) for f in folders]
    if not sets:
        raise ConfigError("no training folder given")
    twice = sorted(k for k, n in Counter(c.key for s in sets for c in s.clips).items() if n > 1)
    if twice:
        raise ConfigError(f"{len(twice)} clips are in more than one training folder, e.g. {twice[0]}")
    return TrainingSet([c for s in sets for c in s.clips], [r for s in sets for r in s.records])
