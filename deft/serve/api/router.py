"""The routes of `deft serve`: /v1/models, /v1/chat/completions (streaming), /v1/completions, /v1/files,
/v1/deft/analyze; key check, size guard and OpenAI-shaped errors. Each route hands its parsed request to
the Serving in app.state."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ValidationError
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException

from deft.serve.api.protocol import (
    AnalyzeRequest,
    ChatCompletionRequest,
    ChatCompletionResponse,
    CompletionRequest,
    CompletionResponse,
    FileObject,
)
from deft.serve.api.body_limit import BodyBudget, BodyLimit
from deft.serve.api.serving import EventStream, Serving
from deft.serve.engines import Engine
from deft.serve.openai_errors import APIError, error_response
from deft.serve.settings import ServeSettings

router = APIRouter()


def serving(request: Request) -> Serving:
    return request.app.state.serving


def body_limit(settings: ServeSettings) -> int:
    """The largest body a route accepts: the video limit in base64 plus room for the rest of the request."""
    return settings.max_upload_bytes * 4 // 3 + 65536


def parsed(model: type[BaseModel]):
    """The body as `model`, read as JSON whatever its content-type says (curl -d sends a form type); its size
    is bounded by BodyLimit as it arrives; a ValidationError becomes a 400 (see create_app)."""

    async def body(request: Request) -> BaseModel:
        try:  # a body over body_limit() is refused (413) while it is read
            data = json.loads(await request.body())
        except ValueError:  # JSONDecodeError, UnicodeDecodeError, an integer past Python's 4300 digits
            raise APIError(400, "body is not valid JSON", "invalid_json") from None
        except RecursionError:
            raise APIError(400, "body is not valid JSON: nested too deep", "invalid_json") from None
        return model.model_validate(data)

    return Depends(body)


@router.get("/health")
async def health(request: Request) -> dict:
    return {"status": "ok", "engine": serving(request).engine.name}


@router.get("/v1/models")
async def models(request: Request) -> dict:
    model_id = serving(request).settings.model_id
    return {"object": "list", "data": [{"id": model_id, "object": "model", "created": 0, "owned_by": "deft"}]}


@router.post("/v1/files")
async def upload(request: Request, file: UploadFile, purpose: str = "vision") -> FileObject:
    return await serving(request).upload(file, purpose)


@router.post("/v1/deft/analyze")
async def deft_analyze(request: Request, body: AnalyzeRequest = parsed(AnalyzeRequest)) -> dict:
    return await serving(request).analyze(body)


@router.post("/v1/chat/completions", response_model=None)
async def chat(request: Request, body: ChatCompletionRequest = parsed(ChatCompletionRequest)
               ) -> ChatCompletionResponse | StreamingResponse:
    answer = await serving(request).chat(body)
    if isinstance(answer, EventStream):
        return StreamingResponse(answer.events, media_type="text/event-stream", background=BackgroundTask(answer.release))
    return answer


@router.post("/v1/completions")
async def completions(request: Request, body: CompletionRequest = parsed(CompletionRequest)) -> CompletionResponse:
    return await serving(request).complete(body)


def create_app(engine: Engine, settings: ServeSettings = ServeSettings()) -> FastAPI:
    serving_state = Serving(engine, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        sweeper = asyncio.create_task(serving_state.sweep_every(1.0))  # expired uploads go within a second
        yield
        sweeper.cancel()
        serving_state.files.close()  # uploaded clips do not outlive the server, nor their analyses
        serving_state.long_videos.clear()

    app = FastAPI(title="deft", version="0.1.0", lifespan=lifespan)
    app.state.serving = serving_state

    @app.middleware("http")
    async def auth(request: Request, call_next):
        if settings.api_keys and request.url.path.startswith("/v1/"):
            header = request.headers.get("authorization", "")
            if not header.startswith("Bearer ") or header[7:] not in settings.api_keys:
                return error_response(401, "invalid or missing API key", "invalid_api_key")
        try:
            return await call_next(request)
        except APIError as err:
            return error_response(err.status, err.message, err.code, err.param, err.headers)

    @app.exception_handler(APIError)
    async def api_error(_, err: APIError):
        return error_response(err.status, err.message, err.code, err.param, err.headers)

    @app.exception_handler(HTTPException)  # unknown route, wrong method, broken multipart: OpenAI's shape too
    async def http_error(_, err: HTTPException):
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(err.status_code, "invalid_request")
        return error_response(err.status_code, str(err.detail), code)

    @app.exception_handler(ValidationError)
    @app.exception_handler(RequestValidationError)
    async def invalid(_, err: ValidationError | RequestValidationError):
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
        return error_response(400, f"invalid request: {where or 'body'}: {first.get('msg', err)}", "invalid_request",
                              where or None)

    app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=body_limit(settings), timeout_s=settings.body_timeout_s,
                       total_s=settings.body_total_s, budget=BodyBudget(settings.max_bodies_bytes))
    return app
