"""Stack ClipFeatures and labels into the tensors the model takes."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import torch

from deft.aus import DETECTED_AUS
from deft.emotion import COMPOSITE_LABELS
from deft.model.features import ClipFeatures
from deft.model.heads import FINE_WITH_NONE


def collate(items: list[ClipFeatures]) -> dict[str, torch.Tensor]:
    return {f.name: torch.from_numpy(np.stack([getattr(x, f.name) for x in items])).float() for f in fields(ClipFeatures)}


def targets(aus: list[set[str]], composite: list[str], fine: list[str], subject: list[int] | None = None) -> dict[str, torch.Tensor]:
    """Label tensors: composite/fine class indices, multi-hot AUs, optional subject index."""
    out = {
        "composite": torch.tensor([COMPOSITE_LABELS.index(c) for c in composite]),
        "fine": torch.tensor([FINE_WITH_NONE.index(f) for f in fine]),
        "aus": torch.tensor([[float(a in s) for a in DETECTED_AUS] for s in aus]),
    }
    if subject is not None:
        out["subject"] = torch.tensor(subject)
    return out
