"""Projector: expert tokens -> soft tokens in the LLM's embedding space."""

from __future__ import annotations

import torch
from torch import nn

from deft.model.config import DeftConfig


class Projector(nn.Module):
    """Per-expert MLP to the LLM width, normalised and scaled to the size of real token embeddings."""

    def __init__(self, config: DeftConfig):
        super().__init__()
        self.maps = nn.ModuleDict({
            name: nn.Sequential(nn.Linear(config.expert_dim, config.llm_dim), nn.GELU(), nn.Linear(config.llm_dim, config.llm_dim))
            for name in config.experts
        })
        self.norm = nn.LayerNorm(config.llm_dim)
        # set from the backbone's mean embedding norm when attached (Gemma scales embeddings by sqrt(d))
        self.register_buffer("scale", torch.tensor(1.0))
        # a learned position code per soft token, so the LLM can tell the experts apart
        self.position = nn.Parameter(torch.zeros(config.n_soft_tokens, config.llm_dim))

    def forward(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        """{expert: (B, T, D)} -> (B, E * T, llm_dim)."""
        soft = torch.cat([self.maps[name](t) for name, t in tokens.items()], dim=1)
        unit = self.norm(soft + self.position) / soft.shape[-1] ** 0.5
        return unit * self.scale
