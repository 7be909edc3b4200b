"""Classification heads on the pooled expert outputs, and the identity adversary of the motion expert."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deft.labels import COMPOSITE_LABELS, DETECTED_AUS, FINE_WITH_NONE
from deft.model.config import DeftConfig


class Heads(nn.Module):
    """Emotion (composite + fine) and AU logits from the experts, as the hybrid objective's targets."""

    def __init__(self, config: DeftConfig):
        super().__init__()
        width = config.expert_dim * len(config.experts)
        self.trunk = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 256), nn.GELU(), nn.Dropout(config.dropout))
        self.composite = nn.Linear(256, len(COMPOSITE_LABELS))
        self.fine = nn.Linear(256, len(FINE_WITH_NONE))
        self.aus = nn.Linear(256, len(DETECTED_AUS))
        self.adversary = nn.Linear(config.expert_dim, config.n_subjects) if config.n_subjects > 1 else None

    def forward(self, pooled: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        h = self.trunk(torch.cat(list(pooled.values()), dim=1))
        out = {"composite": self.composite(h), "fine": self.fine(h), "aus": self.aus(h)}
        if self.adversary is not None and "motion" in pooled:
            motion = pooled["motion"]
            out["identity"] = self.adversary(motion.detach())  # the adversary learns who it is; the expert is left alone
            # what the motion expert is trained on: the same adversary, frozen, on its live features
            out["identity_confusion"] = F.linear(motion, self.adversary.weight.detach(), self.adversary.bias.detach())
        return out
