"""deft's OpenAI-compatible HTTP API, split as vLLM splits its entrypoints: `router` (routes), `protocol`
(request and response models), `serving` (what each endpoint does)."""

from deft.serve.api.router import create_app

__all__ = ["create_app"]
