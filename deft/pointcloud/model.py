"""A small Point-MAE-style encoder with a domain adapter (after DAP-MAE), and its expression heads.

Tokens: farthest-point sampling picks `n_groups` centres, each centre's k nearest points (by position)
form a patch, a shared point MLP max-pooled over the patch embeds it (positions relative to the centre,
motion kept as is). Pre-training masks patches and reconstructs them with a Chamfer loss. The domain
adapter has one bottleneck per domain after every encoder block: "adapt" mode uses the clip's own domain
(pre-training), "fuse" mode mixes all of them by the domain feature generator's predicted domain
(fine-tuning and use, where the domain is not given); the generated domain feature joins the heads' input.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from deft.labels import COMPOSITE_LABELS, DETECTED_AUS, FINE_WITH_NONE
from deft.pointcloud.clips import N_DOMAINS


@dataclass
class PointMAEConfig:
    """Sizes of the encoder, decoder, adapter and heads (the defaults: about 0.3 M parameters)."""

    in_dim: int = 6  # x, y, z + scaled displacement
    n_groups: int = 16
    group_size: int = 16
    dim: int = 64
    depth: int = 3
    heads: int = 4
    decoder_depth: int = 1
    mask_ratio: float = 0.6
    n_domains: int = N_DOMAINS
    adapter_dim: int = 16
    domain_dim: int = 32
    use_adapter: bool = True


def farthest_points(xyz: torch.Tensor, k: int) -> torch.Tensor:
    """(B, N, 3) -> (B, k) indices by farthest-point sampling from point 0 (deterministic)."""
    b, n, _ = xyz.shape
    idx = torch.zeros(b, k, dtype=torch.long, device=xyz.device)
    dist = torch.full((b, n), float("inf"), device=xyz.device)
    last = torch.zeros(b, dtype=torch.long, device=xyz.device)
    rows = torch.arange(b, device=xyz.device)
    for i in range(1, k):
        dist = torch.minimum(dist, ((xyz - xyz[rows, last][:, None]) ** 2).sum(-1))
        last = dist.argmax(-1)
        idx[:, i] = last
    return idx


def patches(points: torch.Tensor, n_groups: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, N, D) -> centres (B, G, D) and patches (B, G, k, D) with positions relative to their centre."""
    xyz = points[..., :3]
    rows = torch.arange(len(points), device=points.device)[:, None]
    centres = points[rows, farthest_points(xyz, n_groups)]
    knn = torch.cdist(centres[..., :3], xyz).topk(k, dim=-1, largest=False).indices  # (B, G, k)
    group = points[rows[:, :, None], knn]
    return centres, torch.cat([group[..., :3] - centres[:, :, None, :3], group[..., 3:]], -1)


def chamfer(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean symmetric Chamfer distance (squared L2) between point sets (M, k, D) and (M, k', D)."""
    d = torch.cdist(a, b) ** 2
    return d.min(-1).values.mean() + d.min(-2).values.mean()


class DomainAdapter(nn.Module):
    """One residual bottleneck per domain; a domain index picks one, domain weights mix them all."""

    def __init__(self, dim: int, hidden: int, n_domains: int):
        super().__init__()
        self.down = nn.Parameter(torch.randn(n_domains, dim, hidden) * dim**-0.5)
        self.up = nn.Parameter(torch.zeros(n_domains, hidden, dim))

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """x (B, L, D), weights (B, n_domains) summing to 1 (one-hot in adapt mode)."""
        down = torch.einsum("bd,dih->bih", weights, self.down)
        up = torch.einsum("bd,dhi->bhi", weights, self.up)
        return x + torch.nn.functional.gelu(x @ down) @ up


class PointEncoder(nn.Module):
    """Patch tokens -> transformer with domain adapters; also the domain feature generator."""

    def __init__(self, cfg: PointMAEConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Sequential(nn.Linear(cfg.in_dim, 64), nn.GELU(), nn.Linear(64, cfg.dim))
        self.pos = nn.Sequential(nn.Linear(3, 64), nn.GELU(), nn.Linear(64, cfg.dim))
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(cfg.dim, cfg.heads, 2 * cfg.dim, 0.0, "gelu", batch_first=True, norm_first=True)
            for _ in range(cfg.depth))
        self.adapters = nn.ModuleList(DomainAdapter(cfg.dim, cfg.adapter_dim, cfg.n_domains)
                                      for _ in range(cfg.depth)) if cfg.use_adapter else None
        self.norm = nn.LayerNorm(cfg.dim)
        self.domain_feature = nn.Sequential(nn.Linear(cfg.dim, cfg.domain_dim), nn.GELU())
        self.domain_logits = nn.Linear(cfg.domain_dim, cfg.n_domains)

    def tokens(self, groups: torch.Tensor, centres: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Token embeddings (B, G, D) and position embeddings (B, G, D)."""
        return self.embed(groups).max(dim=2).values, self.pos(centres[..., :3])

    def domain(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Generated domain feature (B, domain_dim) and domain logits from the embedded tokens (B, L, D)."""
        feature = self.domain_feature(x.mean(dim=1))
        return feature, self.domain_logits(feature)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, domain: torch.Tensor | None = None) -> dict:
        """Encode tokens x + pos (B, L, D). `domain` (B,) indices: adapt mode; None: fuse mode."""
        feature, logits = self.domain(x)
        if domain is not None:
            weights = nn.functional.one_hot(domain, self.cfg.n_domains).float()
        else:
            weights = logits.softmax(-1)
        h = x + pos
        for i, block in enumerate(self.blocks):
            h = block(h)
            if self.adapters is not None:
                h = self.adapters[i](h, weights)
        return {"tokens": self.norm(h), "domain_feature": feature, "domain_logits": logits}


class PointMAE(nn.Module):
    """Encoder + a light decoder that reconstructs masked patches (pre-training)."""

    def __init__(self, cfg: PointMAEConfig = PointMAEConfig()):
        super().__init__()
        self.cfg = cfg
        self.encoder = PointEncoder(cfg)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.decoder = nn.ModuleList(
            nn.TransformerEncoderLayer(cfg.dim, cfg.heads, 2 * cfg.dim, 0.0, "gelu", batch_first=True, norm_first=True)
            for _ in range(cfg.decoder_depth))
        self.out = nn.Linear(cfg.dim, cfg.group_size * cfg.in_dim)

    def forward(self, points: torch.Tensor, domain: torch.Tensor | None, generator: torch.Generator | None = None
                ) -> dict[str, torch.Tensor]:
        """Pre-training losses of a batch of clouds (B, N, in_dim): Chamfer of masked patches, domain CE."""
        cfg = self.cfg
        centres, groups = patches(points, cfg.n_groups, cfg.group_size)
        x, pos = self.encoder.tokens(groups, centres)
        b, g, d = x.shape
        n_mask = int(round(cfg.mask_ratio * g))
        order = torch.rand(b, g, generator=generator).argsort(-1)
        masked, visible = order[:, :n_mask], order[:, n_mask:]
        take = lambda t, i: t.gather(1, i[..., None].expand(-1, -1, t.shape[-1]))
        enc = self.encoder(take(x, visible), take(pos, visible), domain)
        h = torch.cat([enc["tokens"] + take(pos, visible), self.mask_token.expand(b, n_mask, d) + take(pos, masked)], 1)
        for block in self.decoder:
            h = block(h)
        pred = self.out(h[:, -n_mask:]).reshape(b * n_mask, cfg.group_size, cfg.in_dim)
        truth = groups.gather(1, masked[..., None, None].expand(-1, -1, *groups.shape[2:]))
        losses = {"chamfer": chamfer(pred, truth.reshape(b * n_mask, cfg.group_size, cfg.in_dim))}
        if domain is not None:
            losses["domain"] = nn.functional.cross_entropy(enc["domain_logits"], domain)
        return losses


class PointClassifier(nn.Module):
    """The encoder (fuse mode) with fine-emotion, composite and AU-presence heads."""

    def __init__(self, encoder: PointEncoder):
        super().__init__()
        self.encoder = encoder
        cfg = encoder.cfg
        width = 2 * cfg.dim + (cfg.domain_dim if cfg.use_adapter else 0)
        self.fine = nn.Linear(width, len(FINE_WITH_NONE))
        self.composite = nn.Linear(width, len(COMPOSITE_LABELS))
        self.aus = nn.Linear(width, len(DETECTED_AUS))

    def features(self, points: torch.Tensor) -> torch.Tensor:
        cfg = self.encoder.cfg
        centres, groups = patches(points, cfg.n_groups, cfg.group_size)
        out = self.encoder(*self.encoder.tokens(groups, centres))
        parts = [out["tokens"].max(1).values, out["tokens"].mean(1)]
        if cfg.use_adapter:
            parts.append(out["domain_feature"])  # fusion: the generated domain feature joins the heads
        return torch.cat(parts, -1)

    def forward(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.features(points)
        return {"fine": self.fine(f), "composite": self.composite(f), "aus": self.aus(f)}
