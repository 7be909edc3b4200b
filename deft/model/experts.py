"""The three experts that disentangle a clip: structure, dynamic texture, motion-semantics.

Each maps its own input (deft.model.features.ClipFeatures) to `expert_tokens` vectors of
`expert_dim`; shapes are (B, T, D) with B clips, T tokens per expert, D = expert_dim.
"""

from __future__ import annotations

import torch
from torch import nn

from deft.model.config import DeftConfig
from deft.model.features import TEXTURE_FRAMES

STRUCTURE_VECTOR = 136 + 128  # landmarks + identity descriptor
MOTION_VECTOR = 18 * 6 + 12 * 2  # region descriptors + AU rules


class ConvEncoder(nn.Module):
    """(B, C, 64, 64) -> (B, 4 * width): three stride-2 conv blocks, then mean and max pooling."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        layers, c = [], in_channels
        for out in (width, 2 * width, 2 * width):
            layers += [nn.Conv2d(c, out, 3, stride=2, padding=1), nn.GroupNorm(8, out), nn.GELU()]
            c = out
        self.body = nn.Sequential(*layers)  # 64 -> 32 -> 16 -> 8
        self.out_dim = 4 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)  # (B, 2w, 8, 8)
        return torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)  # (B, 4w)


class _Expert(nn.Module):
    """Image encoder + vector MLP, fused into T tokens of width D."""

    def __init__(self, config: DeftConfig, in_channels: int, vector_dim: int):
        super().__init__()
        self.image = ConvEncoder(in_channels, config.conv_width)
        self.vector = nn.Sequential(nn.Linear(vector_dim, 128), nn.GELU(), nn.Linear(128, 128))
        self.fuse = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(self.image.out_dim + 128, config.expert_dim * config.expert_tokens)
        )
        self.tokens, self.dim = config.expert_tokens, config.expert_dim

    def encode(self, image: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
        h = torch.cat([self.image(image), self.vector(vector)], dim=1)
        return self.fuse(h).view(-1, self.tokens, self.dim)  # (B, T, D)


class StructureExpert(_Expert):
    """Static appearance and geometry: onset crop, landmarks, dlib identity descriptor."""

    def __init__(self, config: DeftConfig):
        super().__init__(config, 1, STRUCTURE_VECTOR)

    def forward(self, batch: dict[str, torch.Tensor], image_key: str = "structure_image") -> torch.Tensor:
        return self.encode(batch[image_key], batch["structure_vector"])


class TextureExpert(_Expert):
    """Fine temporal change: grey-level differences from onset over the phase window, frames as channels."""

    def __init__(self, config: DeftConfig):
        super().__init__(config, TEXTURE_FRAMES, TEXTURE_FRAMES)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        texture = batch["texture"]  # (B, K, 64, 64)
        energy = texture.abs().mean(dim=(2, 3))  # (B, K): how much changes, frame by frame
        return self.encode(texture, energy)


class MotionExpert(_Expert):
    """Motion semantics: flow and strain maps, region descriptors and AU evidence from `deft analyze`."""

    def __init__(self, config: DeftConfig):
        super().__init__(config, 3, MOTION_VECTOR)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.encode(batch["motion_maps"], batch["motion_vector"])


EXPERTS = {"structure": StructureExpert, "texture": TextureExpert, "motion": MotionExpert}
