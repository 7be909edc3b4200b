"""Start `deft serve`: pick an engine (vLLM if it starts, else transformers) and run uvicorn."""

from __future__ import annotations

import sys

from deft.errors import ConfigError
from serve.settings import ServeSettings


def make_engine(kind: str = "auto", model_path: str | None = None):
    """The engine `kind` names; "auto" tries vLLM and falls back to transformers, saying why."""
    from deft.explain import DEFAULT_MODEL, load_model
    from serve.engines import TransformersEngine, VLLMEngine

    model = load_model(model_path)
    if kind in ("auto", "vllm"):
        try:
            from deft.model.backbone import default_backbone_dir

            backbone = model.config.backbone if model.config.backbone != "default" else str(default_backbone_dir())
            adapter = str((model_path or DEFAULT_MODEL)) + "/adapter"
            return VLLMEngine(model, backbone, adapter)
        except Exception as err:  # noqa: BLE001 - any vLLM start failure means: use transformers
            if kind == "vllm":
                raise ConfigError(f"vLLM could not start: {type(err).__name__}: {err}") from None
            print(f"deft serve: vLLM unavailable ({type(err).__name__}: {str(err)[:200]}); using transformers",
                  file=sys.stderr)
    if kind not in ("auto", "vllm", "transformers"):
        raise ConfigError(f"unknown engine {kind!r}; choose auto, vllm or transformers")
    return TransformersEngine(model)


def serve(host: str = "127.0.0.1", port: int = 8000, api_key: str | None = None, engine: str = "auto",
          model_path: str | None = None, **limits) -> None:
    import uvicorn

    from serve.api import create_app

    app = create_app(make_engine(engine, model_path), ServeSettings.from_env(api_key, **limits))
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_keep_alive=5)
