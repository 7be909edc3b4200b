"""The hybrid objective: classification + disentanglement (+ the LM loss computed in deft.py)."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from deft.model.batch import IGNORE
from deft.model.config import DeftConfig


def decorrelation(pooled: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean squared cross-correlation between every pair of experts (batch-standardised features)."""
    names = list(pooled)
    if len(names) < 2 or next(iter(pooled.values())).shape[0] < 2:
        return next(iter(pooled.values())).new_zeros(())
    z = {k: (v - v.mean(0)) / (v.std(0) + 1e-4) for k, v in pooled.items()}
    terms = [(z[a].T @ z[b] / z[a].shape[0]).pow(2).mean() for a, b in itertools.combinations(names, 2)]
    return torch.stack(terms).mean()


def _cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the clips with a target; 0 for a batch of none (the mean over none is nan)."""
    return F.cross_entropy(logits, target) if (target != IGNORE).any() else logits.sum() * 0


def classification(logits: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {
        "composite": _cross_entropy(logits["composite"], targets["composite"]),
        "fine": _cross_entropy(logits["fine"], targets["fine"]),
        "aus": F.binary_cross_entropy_with_logits(logits["aus"], targets["aus"]),
    }


def hybrid_loss(
    logits: dict[str, torch.Tensor], pooled: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
    config: DeftConfig, structure_apex: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """All non-LM terms and their weighted sum under "total"."""
    terms = classification(logits, targets)
    total = config.cls_weight * (terms["composite"] + terms["fine"]) + config.au_weight * terms["aus"]
    terms["decorrelation"] = decorrelation(pooled)
    total = total + config.decorrelation_weight * terms["decorrelation"]
    if structure_apex is not None and "structure" in pooled:
        # motion-invariance of structure: the same face at onset and apex must look the same to it
        terms["invariance"] = F.mse_loss(pooled["structure"], structure_apex)
        total = total + config.invariance_weight * terms["invariance"]
    if "identity" in logits and "subject" in targets:
        # identity-invariance of motion: the adversary tries to tell who it is, and the expert is pushed toward
        # the adversary's uniform guess (cross-entropy to uniform, >= log K). Reversing the adversary's own
        # gradient instead lets the expert drive that loss to infinity (it did with 8 identities: benchmarks/README).
        terms["adversary"] = F.cross_entropy(logits["identity"], targets["subject"])
        terms["confusion"] = -F.log_softmax(logits["identity_confusion"], dim=1).mean()
        total = total + config.adversary_weight * (terms["adversary"] + terms["confusion"])
    terms["total"] = total
    return terms
