"""Training: the encoding by a triplet loss on state overlaps, then the classifier on the fixed encoding."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from deft.quantum.circuits import VQC, Encoding


@dataclass(frozen=True)
class QuantumFitConfig:
    triplet_steps: int = 150
    triplets: int = 32  # per step
    margin: float = 0.5  # on the pure-state distance 1 - |<a|b>|^2
    vqc_steps: int = 150
    batch_size: int = 32
    lr: float = 0.05
    seed: int = 0


def state_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """1 - |<a|b>|^2 per row: the squared trace distance of two pure states."""
    return 1.0 - (a.conj() * b).sum(-1).abs() ** 2


def fit_triplet(encoding: Encoding, x: np.ndarray, y: np.ndarray, cfg: QuantumFitConfig = QuantumFitConfig()
                ) -> list[float]:
    """Train a trainable encoding so an anchor's state lies closer to a same-class state than to an
    other-class one by `margin`; returns the loss of every step."""
    rng = np.random.default_rng(cfg.seed)
    xt = torch.from_numpy(x)
    by_class = [np.flatnonzero(y == c) for c in (0, 1)]
    opt = torch.optim.Adam([encoding.weights], lr=cfg.lr)
    curve = []
    for _ in range(cfg.triplet_steps):
        anchor = rng.integers(0, len(y), cfg.triplets)
        pos = np.array([rng.choice(by_class[y[a]]) for a in anchor])
        neg = np.array([rng.choice(by_class[1 - y[a]]) for a in anchor])
        s = encoding.states(xt[np.concatenate([anchor, pos, neg])])
        sa, sp, sn = s.split(cfg.triplets)
        loss = torch.relu(state_distance(sa, sp) - state_distance(sa, sn) + cfg.margin).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
    encoding.weights.requires_grad_(False)
    return curve


def fit_vqc(vqc: VQC, x: np.ndarray, y: np.ndarray, cfg: QuantumFitConfig = QuantumFitConfig()) -> list[float]:
    """Train the classifier (the encoding stays fixed) with binary cross-entropy; returns the step losses."""
    rng = np.random.default_rng(cfg.seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    opt = torch.optim.Adam(vqc.parameters(), lr=cfg.lr)
    curve = []
    for _ in range(cfg.vqc_steps):
        idx = rng.integers(0, len(y), min(cfg.batch_size, len(y)))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(vqc.logits(xt[idx]), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
    return curve


@torch.no_grad()
def accuracy(vqc: VQC, x: np.ndarray, y: np.ndarray) -> float:
    return float(((vqc.logits(torch.from_numpy(x)) > 0).numpy() == (y == 1)).mean())
