"""The OpenAI-compatible HTTP API of `deft serve`: /v1/models, /v1/chat/completions (streaming),
/v1/completions, /v1/files, and /v1/deft/analyze."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator

from fastapi import FastAPI, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from deft.errors import DeftError
from deft.labels import AU_QUESTION as DEFAULT_QUESTION
from deft.serve.engines import Engine
from deft.serve.media import FileStore, decode_data_url, write_temp
from deft.serve.openai_errors import APIError, error_response
from deft.serve.settings import ServeSettings


class Gate:
    """At most `max_concurrent` requests compute; at most `max_queue` wait; the rest get 429.

    `async with gate:` holds a slot for a block; `release = await gate.enter()` holds one until
    `release()` (which may be called more than once), e.g. across a streamed response, which outlives
    the handler that started it.
    """

    def __init__(self, settings: ServeSettings):
        self.slots = asyncio.Semaphore(settings.max_concurrent)
        self.waiting, self.max_queue = 0, settings.max_queue

    async def enter(self) -> Callable[[], None]:
        if self.waiting >= self.max_queue:
            raise APIError(429, f"server busy: {self.waiting} requests queued; retry later", "queue_full")
        self.waiting += 1
        try:
            await self.slots.acquire()
        finally:
            self.waiting -= 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.slots.release()

        return release

    async def __aenter__(self):
        await self.enter()

    async def __aexit__(self, *exc):
        self.slots.release()


def _clip_from_messages(body: dict, settings: ServeSettings, files: FileStore) -> tuple[bytes | str | None, str]:
    """(video bytes or uploaded path or None, question) from the last user message."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise APIError(400, "messages must be a non-empty list", "invalid_messages", "messages")
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        raise APIError(400, "no user message", "invalid_messages", "messages")
    content = users[-1].get("content")
    if isinstance(content, str):
        return None, content
    if not isinstance(content, list):
        raise APIError(400, "message content must be a string or a list of parts", "invalid_messages", "messages")
    texts, video = [], None
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            texts.append(str(part.get("text", "")))
        elif kind == "video_url":
            video = decode_data_url((part.get("video_url") or {}).get("url"), settings.max_upload_bytes)
        elif kind == "file":
            video = files.path(str((part.get("file") or {}).get("file_id", "")))
        else:
            raise APIError(400, f"unsupported content part type {kind!r}; use text, video_url or file", "invalid_part")
    return video, " ".join(t for t in texts if t.strip())


def create_app(engine: Engine, settings: ServeSettings = ServeSettings()) -> FastAPI:
    from deft.analyze import AnalyzeConfig, analyze
    from deft.model.features import clip_features
    from deft.video import VideoLimits

    app = FastAPI(title="deft", version="0.1.0")
    gate = Gate(settings)
    files = FileStore(settings.max_files)
    config = AnalyzeConfig(limits=VideoLimits(max_bytes=settings.max_upload_bytes, max_frames=settings.max_video_frames))

    @app.middleware("http")
    async def auth(request: Request, call_next):
        if settings.api_keys and request.url.path.startswith("/v1/"):
            header = request.headers.get("authorization", "")
            if not header.startswith("Bearer ") or header[7:] not in settings.api_keys:
                return error_response(401, "invalid or missing API key", "invalid_api_key")
        try:
            return await call_next(request)
        except APIError as err:
            return error_response(err.status, err.message, err.code, err.param)

    @app.exception_handler(APIError)
    async def api_error(_, err: APIError):
        return error_response(err.status, err.message, err.code, err.param)

    @app.exception_handler(RequestValidationError)
    async def invalid(_, err: RequestValidationError):
        return error_response(400, f"invalid request: {err.errors()[:1]}", "invalid_request")

    async def json_body(request: Request) -> dict:
        if int(request.headers.get("content-length") or 0) > settings.max_upload_bytes * 4 // 3 + 65536:
            raise APIError(413, f"request larger than the {settings.max_upload_bytes // 2**20} MiB video limit", "too_large")
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise APIError(400, "body is not valid JSON", "invalid_json") from None
        if not isinstance(body, dict):
            raise APIError(400, "body must be a JSON object", "invalid_json")
        return body

    def max_tokens(body: dict) -> int:
        value = body.get("max_tokens", body.get("max_completion_tokens", settings.max_new_tokens))
        if not isinstance(value, int) or value < 1:
            raise APIError(400, "max_tokens must be a positive integer", "invalid_max_tokens", "max_tokens")
        return min(value, settings.max_new_tokens)

    def analyse(video: bytes | str):
        """Analysis + expert features of a clip (bytes are written to a private temp file, then removed)."""
        path = video if isinstance(video, str) else write_temp(video, files.dir)
        try:
            result = analyze(path, config)
            return result, clip_features(result)
        except DeftError as err:
            raise APIError(422, str(err).replace(path, "uploaded video"), "unprocessable_video") from None
        finally:
            if not isinstance(video, str):
                os.unlink(path)

    async def timed(fn, *args):
        try:
            return await asyncio.wait_for(run_in_threadpool(fn, *args), settings.request_timeout_s)
        except asyncio.TimeoutError:
            raise APIError(504, f"request took longer than {settings.request_timeout_s:.0f} s", "timeout") from None

    @app.get("/health")
    async def health():
        return {"status": "ok", "engine": engine.name}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": settings.model_id, "object": "model", "created": 0, "owned_by": "deft"}]}

    @app.post("/v1/files")
    async def upload(file: UploadFile, purpose: str = "vision"):
        data = await file.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise APIError(413, f"file larger than {settings.max_upload_bytes // 2**20} MiB", "file_too_large")
        if not data:
            raise APIError(400, "empty file", "empty_file")
        file_id = files.add(data)
        return {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                "filename": os.path.basename(file.filename or "clip.mp4"), "purpose": purpose}

    @app.post("/v1/deft/analyze")
    async def deft_analyze(request: Request):
        body = await json_body(request)
        video = (decode_data_url(body["video_url"], settings.max_upload_bytes) if "video_url" in body
                 else files.path(str(body.get("file_id", ""))) if "file_id" in body else None)
        if video is None:
            raise APIError(400, "give video_url (base64 data URL) or file_id", "missing_video")
        async with gate:
            result, _ = await timed(analyse, video)
        return {**result.to_dict(), "source": "uploaded video"}

    def chunk(cid: str, created: int, delta: dict, finish: str | None, extra: dict | None = None) -> str:
        data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": settings.model_id,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **(extra or {})}
        return f"data: {json.dumps(data)}\n\n"

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await json_body(request)
        video, question = _clip_from_messages(body, settings, files)
        n_tokens = max_tokens(body)
        question = question or DEFAULT_QUESTION
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        release = await gate.enter()
        try:
            analysis, features = await timed(analyse, video) if video is not None else (None, None)
            pieces: Iterator[str] = (engine.explain(features, question, n_tokens) if features is not None
                                     else engine.complete(question, n_tokens))
            evidence = {"engine": engine.name,
                        "deft": {k: analysis.to_dict()[k] for k in ("phases", "aus", "emotion")} if analysis else None}
            if body.get("stream"):
                async def events():
                    try:  # the slot is held until the last piece is sent
                        yield chunk(cid, created, {"role": "assistant", "content": ""}, None, evidence)
                        async for piece in iterate_in_threadpool(pieces):
                            yield chunk(cid, created, {"content": piece}, None)
                        yield chunk(cid, created, {}, "stop")
                        yield "data: [DONE]\n\n"
                    finally:
                        release()

                # the background task releases it too when a client leaves before the stream starts
                return StreamingResponse(events(), media_type="text/event-stream", background=BackgroundTask(release))
            text = "".join(await timed(lambda: list(pieces)))
        except BaseException:
            release()
            raise
        release()
        return JSONResponse({
            "id": cid, "object": "chat.completion", "created": created, "model": settings.model_id,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": len(text.split()), "total_tokens": len(text.split())},
            **evidence,
        })

    @app.post("/v1/completions")
    async def completions(request: Request):
        body = await json_body(request)
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise APIError(400, "prompt must be a non-empty string", "invalid_prompt", "prompt")
        n_tokens = max_tokens(body)
        async with gate:
            text = "".join(await timed(lambda: list(engine.complete(prompt, n_tokens))))
        return {"id": f"cmpl-{uuid.uuid4().hex[:24]}", "object": "text_completion", "created": int(time.time()),
                "model": settings.model_id, "engine": engine.name,
                "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}]}

    return app
