"""The backbone's token embedding without the backbone: rows read from its safetensors when asked for.

`deft serve --engine vllm` builds prompt embeddings in deft and lets a vLLM server run the LLM, so deft
needs only the tokenizer, the experts/projector and the input-embedding rows of each prompt's tokens. Loading
the whole LLM for that would keep all its weights in the serve process; here each request reads its rows with pread
(nothing mapped or cached) and runs them through the backbone's own embedding module (built from its
config with one layer and a one-row vocabulary), so any scale it applies (Gemma: sqrt(hidden), rounded to
the dtype) is applied exactly as in the full model: prompt_embeds are bit-identical (tests/test_embedder.py).
"""

from __future__ import annotations

import json
import os
import struct
import threading
from pathlib import Path

import torch
from torch import nn

from deft.errors import ConfigError

SAFETENSORS_DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}


class SafetensorsRows:
    """Rows of one 2-D tensor in a safetensors file (or sharded checkpoint), read by offset."""

    def __init__(self, folder: Path, name: str):
        index = folder / "model.safetensors.index.json"
        file = json.loads(index.read_text())["weight_map"].get(name) if index.is_file() else "model.safetensors"
        self.path = folder / (file or "model.safetensors")
        try:
            with open(self.path, "rb") as f:
                size = struct.unpack("<Q", f.read(8))[0]
                header = json.loads(f.read(size))
        except (OSError, ValueError, struct.error) as err:
            raise ConfigError(f"{self.path}: cannot read its safetensors header ({err})") from None
        entry = header.get(name)
        if file is None or entry is None or entry.get("dtype") not in SAFETENSORS_DTYPES or len(entry["shape"]) != 2:
            raise ConfigError(f"{self.path}: no 2-D float tensor {name!r} (the input embedding) in this checkpoint")
        self.dtype = SAFETENSORS_DTYPES[entry["dtype"]]
        self.rows, self.width = entry["shape"]
        self.row_bytes = self.width * self.dtype.itemsize
        self.start = 8 + size + entry["data_offsets"][0]

    def read(self, ids: list[int]) -> torch.Tensor:
        """(len(ids), width) in the stored dtype."""
        if any(not 0 <= i < self.rows for i in ids):
            raise ConfigError(f"token id out of range 0..{self.rows - 1} of the embedding in {self.path}")
        fd = os.open(self.path, os.O_RDONLY)
        try:
            data = bytearray(b"".join(os.pread(fd, self.row_bytes, self.start + i * self.row_bytes) for i in ids))
        finally:
            os.close(fd)
        return torch.frombuffer(data, dtype=self.dtype).view(len(ids), self.width)


class CheckpointEmbedding(nn.Module):
    """A drop-in for the backbone's input embedding (`llm.get_input_embeddings()`) in `dtype`, rows read on demand."""

    def __init__(self, folder: str | os.PathLike, dtype: torch.dtype):
        super().__init__()
        from transformers import AutoConfig, AutoModelForCausalLM

        folder = Path(folder)
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        config.vocab_size, config.num_hidden_layers = 1, 1  # the embedding's class and scale, ~20 MB for a moment
        if isinstance(getattr(config, "layer_types", None), list):
            config.layer_types = config.layer_types[:1]
        small = AutoModelForCausalLM.from_config(config)
        self.embed = small.get_input_embeddings().to(dtype)  # its weight: one row, a stand-in for dtype and device
        name = next(n for n, p in small.named_parameters() if p is self.embed.weight)
        self.table = SafetensorsRows(folder, name)
        self.num_embeddings, self.embedding_dim = self.table.rows, self.table.width
        self.lock = threading.Lock()  # forward swaps the module's weight for the rows it needs

    @property
    def weight(self) -> torch.Tensor:
        """A one-row stand-in: its dtype and device are the table's (what deft asks a weight for)."""
        return self.embed.weight

    @torch.no_grad()
    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(..., H) embeddings of token `ids`, as the backbone's embedding computes them."""
        unique, inverse = torch.unique(ids.cpu(), return_inverse=True)
        rows = self.table.read(unique.tolist()).to(self.embed.weight.dtype)
        with self.lock:
            stand_in = self.embed.weight
            self.embed.weight = nn.Parameter(rows, requires_grad=False)
            try:
                return self.embed(inverse).to(ids.device)
            finally:
                self.embed.weight = stand_in


class EmbeddingOnly(nn.Module):
    """Stands in for DeftModel.llm where a vLLM server runs the LLM: only `get_input_embeddings()` works."""

    def __init__(self, embed: CheckpointEmbedding):
        super().__init__()
        self.embed_tokens = embed

    def get_input_embeddings(self) -> CheckpointEmbedding:
        return self.embed_tokens

    def forward(self, *args, **kwargs):
        raise ConfigError("this DeftModel holds only the backbone's token embeddings (for a vLLM server); "
                          "load it with deft.explain.load_model to generate in-process")

    generate = forward

    @property
    def config(self):
        """Decoding asks the LLM for its config first: refuse there too."""
        self.forward()


def load_prompt_model(folder: str | os.PathLike, dtype: torch.dtype):
    """The DeftModel at `folder` with its tokenizer and a CheckpointEmbedding in `dtype` instead of the LLM:
    enough for prompt_embeds (what a vLLM engine needs), not for generate."""
    from transformers import AutoTokenizer

    from deft.model.backbone import resolve_backbone
    from deft.model.deft import DeftModel

    model = DeftModel.from_pretrained(folder, load_llm=False)
    backbone = resolve_backbone(None if model.config.backbone == "default" else model.config.backbone)
    embed = CheckpointEmbedding(backbone, dtype)
    if embed.embedding_dim != model.config.llm_dim:
        raise ConfigError(f"{folder}: trained for an LLM width {model.config.llm_dim}, backbone {backbone} has "
                          f"{embed.embedding_dim}")
    model.tokenizer = AutoTokenizer.from_pretrained(backbone, local_files_only=True)
    model.llm = EmbeddingOnly(embed)
    return model.eval()
