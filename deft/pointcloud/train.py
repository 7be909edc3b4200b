"""Pre-training (masked patches + domain), fine-tuning (fine emotion, composite, AU presence), scoring.

Recipes for deft.pointcloud.model and for the flat baselines beside it; every run is seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deft.eval.metrics import mean_au_f1, uf1
from deft.labels import COMPOSITE_LABELS, DETECTED_AUS, FINE_WITH_NONE
from deft.pointcloud.clips import CloudClip
from deft.pointcloud.model import PointMAE


@dataclass(frozen=True)
class FitConfig:
    """One optimisation run."""

    steps: int = 600
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    domain_weight: float = 0.1  # pre-training: the domain loss beside the Chamfer loss
    seed: int = 0


class FlatClassifier(nn.Module):
    """A baseline: an MLP on a clip input flattened (e.g. 68 eye-aligned 2D landmarks and their motion)."""

    def __init__(self, in_features: int, hidden: int = 256):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.GELU(), nn.Dropout(0.1),
                                  nn.Linear(hidden, hidden), nn.GELU())
        self.fine = nn.Linear(hidden, len(FINE_WITH_NONE))
        self.composite = nn.Linear(hidden, len(COMPOSITE_LABELS))
        self.aus = nn.Linear(hidden, len(DETECTED_AUS))

    def forward(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.body(points)
        return {"fine": self.fine(f), "composite": self.composite(f), "aus": self.aus(f)}


def targets(clips: list[CloudClip]) -> dict[str, torch.Tensor]:
    """Label tensors of clips: fine and composite class indices, AU presence (multi-hot)."""
    return {
        "fine": torch.tensor([FINE_WITH_NONE.index(c.emotion) for c in clips]),
        "composite": torch.tensor([COMPOSITE_LABELS.index(c.composite) for c in clips]),
        "aus": torch.tensor([[au in c.aus for au in DETECTED_AUS] for c in clips], dtype=torch.float32),
    }


def _batches(n: int, cfg: FitConfig, gen: torch.Generator):
    for _ in range(cfg.steps):
        yield torch.randint(0, n, (min(cfg.batch_size, n),), generator=gen)


def _optimiser(model: nn.Module, cfg: FitConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def pretrain(model: PointMAE, frames: np.ndarray, domains: np.ndarray | None, cfg: FitConfig = FitConfig()
             ) -> list[float]:
    """Masked-patch pre-training on per-frame inputs (M, N, D); domains (M,) for the adapter, or None.
    Returns the Chamfer loss of every step."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    x = torch.from_numpy(frames)
    dom = None if domains is None else torch.from_numpy(np.asarray(domains, np.int64))
    opt = _optimiser(model, cfg)
    model.train()
    curve = []
    for idx in _batches(len(x), cfg, gen):
        losses = model(x[idx], None if dom is None else dom[idx], gen)
        loss = losses["chamfer"] + cfg.domain_weight * losses.get("domain", 0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(losses["chamfer"].item())
    return curve


def finetune(model: nn.Module, inputs: np.ndarray, labels: dict[str, torch.Tensor], cfg: FitConfig) -> None:
    """Supervised training of a classifier (PointClassifier or FlatClassifier) on clip inputs (C, N, D)."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    x = torch.from_numpy(inputs)
    opt = _optimiser(model, cfg)
    model.train()
    for idx in _batches(len(x), cfg, gen):
        out = model(x[idx])
        loss = (nn.functional.cross_entropy(out["fine"], labels["fine"][idx])
                + nn.functional.cross_entropy(out["composite"], labels["composite"][idx])
                + nn.functional.binary_cross_entropy_with_logits(out["aus"], labels["aus"][idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()


@torch.no_grad()
def predict(model: nn.Module, inputs: np.ndarray) -> list[dict]:
    """Per clip: fine label, composite class, present AUs, and the probabilities behind them."""
    model.eval()
    out = model(torch.from_numpy(inputs))
    fine, comp, aus = out["fine"].softmax(-1), out["composite"].softmax(-1), out["aus"].sigmoid()
    return [{"emotion": FINE_WITH_NONE[int(f.argmax())], "composite": COMPOSITE_LABELS[int(c.argmax())],
             "aus": [au for au, p in zip(DETECTED_AUS, a) if p > 0.5],
             "emotion_probabilities": {k: round(float(p), 4) for k, p in zip(FINE_WITH_NONE, f)},
             "au_probabilities": {k: round(float(p), 4) for k, p in zip(DETECTED_AUS, a)}}
            for f, c, a in zip(fine, comp, aus)]


def score(clips: list[CloudClip], preds: list[dict]) -> dict[str, float]:
    """Accuracy and UF1 of fine emotion and composite class (all clips, `none` included), AU F1 (macro over
    the AUs in the truth, clips with an expression)."""
    fine_t, fine_p = [c.emotion for c in clips], [p["emotion"] for p in preds]
    comp_t, comp_p = [c.composite for c in clips], [p["composite"] for p in preds]
    shown = [i for i, c in enumerate(clips) if c.aus]
    return {
        "fine_acc": float(np.mean([t == p for t, p in zip(fine_t, fine_p)])),
        "fine_uf1": uf1(fine_t, fine_p),
        "composite_acc": float(np.mean([t == p for t, p in zip(comp_t, comp_p)])),
        "composite_uf1": uf1(comp_t, comp_p),
        "au_f1": mean_au_f1([set(clips[i].aus) for i in shown], [set(preds[i]["aus"]) for i in shown], DETECTED_AUS),
    }
