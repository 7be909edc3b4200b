"""DeftConfig: every knob of the DEFT model, saved as config.json beside the weights."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from deft.errors import ConfigError

QUANTIZE = ("none", "4bit")


@dataclass
class DeftConfig:
    # experts
    expert_dim: int = 128  # width of each expert's tokens
    expert_tokens: int = 2  # soft tokens per expert
    conv_width: int = 32
    experts: tuple[str, ...] = ("structure", "texture", "motion")  # drop one for ablations
    dropout: float = 0.1
    # LLM
    backbone: str = "default"  # "default" = the packaged Gemma 3 270M; else a HF causal-LM folder
    llm_dim: int = 640  # hidden size of the backbone (set from it when attached)
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    quantize: str = "none"  # "4bit": QLoRA, the frozen backbone in bitsandbytes NF4 (meant for a GPU)
    # objective weights: LM + classification + disentanglement
    cls_weight: float = 1.0
    au_weight: float = 1.0
    decorrelation_weight: float = 0.1
    invariance_weight: float = 0.1
    adversary_weight: float = 0.1
    n_subjects: int = 0  # identity classes for the motion expert's adversary (0 = off)
    extra: dict = field(default_factory=dict)  # training provenance, scores: copied into the model card

    def __post_init__(self):
        self.experts = tuple(self.experts)
        self.lora_targets = tuple(self.lora_targets)
        unknown = set(self.experts) - {"structure", "texture", "motion"}
        if unknown or not self.experts:
            raise ConfigError(f"experts must be a non-empty subset of structure, texture, motion; got {self.experts}")
        if self.quantize not in QUANTIZE:
            raise ConfigError(f"quantize must be one of {', '.join(QUANTIZE)}; got {self.quantize!r}")

    @property
    def n_soft_tokens(self) -> int:
        return self.expert_tokens * len(self.experts)

    def save(self, folder: str | Path) -> None:
        Path(folder, "config.json").write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, folder: str | Path) -> "DeftConfig":
        path = Path(folder, "config.json")
        if not path.exists():
            raise ConfigError(f"{folder}: no config.json; not a deft model folder")
        data = json.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
