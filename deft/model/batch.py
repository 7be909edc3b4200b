"""Stack ClipFeatures and labels into the tensors the model takes."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import torch

from deft.labels import COMPOSITE_LABELS, DETECTED_AUS, FINE_WITH_NONE
from deft.model.features import ClipFeatures

IGNORE = -100  # a target index cross-entropy skips (its default ignore_index)


def collate(items: list[ClipFeatures]) -> dict[str, torch.Tensor]:
    return {f.name: torch.from_numpy(np.stack([getattr(x, f.name) for x in items])).float() for f in fields(ClipFeatures)}


def targets(aus: list[set[str]], composite: list[str | None], fine: list[str | None],
            subject: list[int] | None = None) -> dict[str, torch.Tensor]:
    """Label tensors: composite/fine class indices, multi-hot AUs, optional subject index.

    A composite of None (`others`, which MEGC 2019 leaves out) becomes IGNORE: no composite loss; so
    does a fine label of None (a dataset that names only the MEGC class, e.g. SMIC's negative).
    """
    out = {
        "composite": torch.tensor([IGNORE if c is None else COMPOSITE_LABELS.index(c) for c in composite]),
        "fine": torch.tensor([IGNORE if f is None else FINE_WITH_NONE.index(f) for f in fine]),
        "aus": torch.tensor([[float(a in s) for a in DETECTED_AUS] for s in aus]),
    }
    if subject is not None:
        out["subject"] = torch.tensor(subject)
    return out
