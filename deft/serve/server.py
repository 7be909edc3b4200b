"""Start `deft serve`: pick an engine (a vLLM server if one is configured and starts, else transformers) and run uvicorn."""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass

from deft.errors import ConfigError
from deft.serve.settings import ServeSettings
from deft.serve.vllm_process import INSTALL_SCRIPT, START_TIMEOUT_S, VLLMError

# Requests computing at once with vLLM, which batches them: on 2 cores one stream decodes 13 tok/s,
# 4 at once 47 tok/s together, 8 at once 60 (the transformers engine answers one at a time).
VLLM_CONCURRENT = 4


@dataclass(frozen=True)
class VLLMOptions:
    """Where vLLM comes from: a python with vllm installed (started as a child) or a running server's URL."""

    python: str | None = None  # --vllm-python / DEFT_VLLM_PYTHON
    url: str | None = None  # --vllm-url / DEFT_VLLM_URL
    timeout_s: float = START_TIMEOUT_S  # --vllm-timeout: startup wait

    @classmethod
    def from_env(cls, python: str | None = None, url: str | None = None, timeout_s: float | None = None) -> "VLLMOptions":
        """Arguments first, then DEFT_VLLM_PYTHON / DEFT_VLLM_URL, then this python if it can import vllm."""
        python = python or os.environ.get("DEFT_VLLM_PYTHON") or None
        url = url or os.environ.get("DEFT_VLLM_URL") or None
        if not python and not url and importlib.util.find_spec("vllm") is not None:
            python = sys.executable
        return cls(python, url, timeout_s or START_TIMEOUT_S)

    @property
    def configured(self) -> bool:
        return bool(self.python or self.url)


def start_vllm_engine(model_path: str | None, options: VLLMOptions):
    """A VLLMEngine on the server at options.url, or on one started with options.python.

    deft's side loads no LLM: only the tokenizer, the experts/projector and the backbone's token embedding
    rows each prompt needs (deft.model.embedder), in the dtype the transformers engine would use.
    """
    from deft.explain import DEFAULT_MODEL
    from deft.model.embedder import load_prompt_model
    from deft.model.inference import inference_dtype
    from deft.serve.engines import VLLMEngine
    from deft.serve.vllm_process import checkpoint_paths, connect_vllm, start_vllm

    dtype = inference_dtype()  # as the transformers engine: bfloat16 where the CPU has it natively
    if options.url:
        server = connect_vllm(options.url)
    else:
        backbone, adapter, rank = checkpoint_paths(model_path)
        server = start_vllm(options.python, backbone, adapter, max_lora_rank=rank,
                            dtype=str(dtype).removeprefix("torch."), timeout_s=options.timeout_s)
        print(f"deft serve: vLLM server ready at {server.url} in {server.started_s:.0f} s (log: {server.log_path})",
              file=sys.stderr)
    try:
        return VLLMEngine(load_prompt_model(model_path or DEFAULT_MODEL, dtype), server)
    except BaseException:
        server.stop()
        raise


def make_engine(kind: str = "auto", model_path: str | None = None, vllm: VLLMOptions | None = None):
    """The engine `kind` names; "auto" uses vLLM when one is configured and starts, else transformers, saying why.

    Only a VLLMError (vLLM cannot be started or reached) falls back: any other error, e.g. a `model_path`
    that is not a deft model folder, is raised as it is, for both engines would fail on it.
    """
    from deft.explain import load_model
    from deft.serve.engines import TransformersEngine

    if kind not in ("auto", "vllm", "transformers"):
        raise ConfigError(f"unknown engine {kind!r}; choose auto, vllm or transformers")
    vllm = vllm or VLLMOptions.from_env()
    if kind == "vllm" and not vllm.configured:
        raise ConfigError("--engine vllm needs --vllm-python PATH (a venv with vllm; build one with "
                          f"`bash {INSTALL_SCRIPT} .venv-vllm`) or --vllm-url URL (or DEFT_VLLM_PYTHON / DEFT_VLLM_URL)")
    if kind == "auto" and not vllm.configured:
        print("deft serve: no vLLM configured (--vllm-python / --vllm-url / DEFT_VLLM_PYTHON); using transformers",
              file=sys.stderr)
    elif kind in ("auto", "vllm"):
        try:
            return start_vllm_engine(model_path, vllm)
        except VLLMError as err:  # vLLM itself failed; a bad --model (ConfigError) is the user's to fix
            if kind == "vllm":
                raise
            print(f"deft serve: vLLM unavailable ({err}); using transformers", file=sys.stderr)
    return TransformersEngine(load_model(model_path))


def serve(host: str = "127.0.0.1", port: int = 8000, api_key: str | None = None, engine: str = "auto",
          model_path: str | None = None, vllm: VLLMOptions | None = None, **limits) -> None:
    import uvicorn

    from deft.serve.api import create_app
    from deft.serve.head_timeout import head_timeout_protocol

    chosen = make_engine(engine, model_path, vllm)
    if chosen.name == "vllm":
        limits.setdefault("max_concurrent", VLLM_CONCURRENT)
    try:
        settings = ServeSettings.from_env(api_key, **limits)
        uvicorn.run(create_app(chosen, settings), host=host, port=port, log_level="info", timeout_keep_alive=5,
                    http=head_timeout_protocol(settings.head_timeout_s))
    finally:
        if hasattr(chosen, "close"):
            chosen.close()
