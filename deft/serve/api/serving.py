"""What the endpoints do: analyse a clip, ask the engine, count the tokens; the routes only call these."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from contextlib import contextmanager
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from anyio import to_thread
from fastapi import UploadFile
from starlette.concurrency import run_in_threadpool

from deft.analyze import Analysis, AnalyzeConfig, analyze
from deft.errors import DeftError
from deft.instruct.faithful import ClipFacts, claims
from deft.labels import AU_QUESTION as DEFAULT_QUESTION
from deft.model.features import ClipFeatures, clip_features
from deft.serve.api.protocol import (
    AnalyzeRequest,
    ChatChoice,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatMessageOut,
    ChunkChoice,
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
    DeltaMessage,
    FileObject,
    UsageInfo,
)
from deft.serve.api.long_chat import LongAnswer
from deft.serve.api.recent import RecentAnalyses
from deft.serve.engines import Engine, TokenCount
from deft.serve.media import FileStore, decode_data_url, write_temp
from deft.serve.openai_errors import RETRY_AFTER, APIError
from deft.serve.settings import ServeSettings
from deft.video import VideoLimits

if TYPE_CHECKING:
    from deft.long.analyze import LongAnalyzeConfig


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
            raise APIError(429, f"server busy: {self.waiting} requests queued; retry later", "queue_full",
                           headers=RETRY_AFTER)
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


@dataclass
class EventStream:
    """A streamed answer's server-sent events; `release` frees its gate slot (the events call it when they
    end; the route calls it too, for a client that leaves before the stream starts)."""

    events: AsyncIterator[str]
    release: Callable[[], None]


CHARS_PER_TOKEN = 16  # a text over limit * this many characters is refused untokenized (a 40 MB message costs nothing)


def check_tokens(tokenizer, text: str, limit: int, what: str, param: str) -> None:
    """A 400 naming `limit` when `text` is longer than `limit` tokens."""
    if len(text) > limit * CHARS_PER_TOKEN:
        raise APIError(400, f"{what} has {len(text)} characters, over the {limit}-token limit", "too_many_tokens", param)
    n = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    if n > limit:
        raise APIError(400, f"{what} has {n} tokens, over the {limit}-token limit", "too_many_tokens", param)


def collect(pieces: Iterator[str], stop: threading.Event, deadline: float) -> str:
    """The whole answer; past `deadline` the generation is stopped (its engine lock freed) and 504 raised."""
    out = []
    try:
        for piece in pieces:
            out.append(piece)
            if time.monotonic() > deadline:
                raise APIError(504, "the answer took longer than the request timeout", "timeout")
    finally:
        stop.set()
    return "".join(out)


async def each_piece(pieces: Iterator[str]) -> AsyncIterator[str]:
    """The pieces, each read in a worker thread. A cancelled reader (its client left) goes at once instead of
    waiting for the next piece, which can be hundreds of tokens away; its caller's stop event ends the generation."""
    end = object()
    while (piece := await to_thread.run_sync(next, pieces, end, abandon_on_cancel=True)) is not end:
        yield piece


def usage_info(count: TokenCount) -> UsageInfo:
    return UsageInfo(prompt_tokens=count.prompt, completion_tokens=count.completion,
                     total_tokens=count.prompt + count.completion)


class Serving:
    """The state every endpoint shares (engine, limits, uploaded files, the gate) and their logic."""

    def __init__(self, engine: Engine, settings: ServeSettings):
        self.engine, self.settings = engine, settings
        self.gate = Gate(settings)
        self.files = FileStore(settings.max_files, settings.keep_uploads_s)
        self.config = AnalyzeConfig(limits=VideoLimits(max_bytes=settings.max_upload_bytes,
                                                       max_frames=settings.max_video_frames))
        self.long_videos = RecentAnalyses(settings.long_videos_kept, settings.keep_uploads_s)

    async def sweep_every(self, seconds: float) -> None:
        """Every `seconds` until cancelled, expired uploads and the long-video analyses kept with them go."""
        while True:
            await asyncio.sleep(seconds)
            self.files.sweep()
            self.long_videos.expire()

    def max_tokens(self, asked: int | None) -> int:
        return min(asked or self.settings.max_new_tokens, self.settings.max_new_tokens)

    @contextmanager
    def video_file(self, video: bytes | str) -> Iterator[str]:
        """A path to the video (bytes go to a private temp file, removed after); deft's errors become 422."""
        path = video if isinstance(video, str) else write_temp(video, self.files.dir)
        try:
            yield path
        except DeftError as err:
            raise APIError(422, str(err).replace(path, "uploaded video"), "unprocessable_video") from None
        finally:
            if isinstance(video, str):
                self.files.used(path)  # deleted now unless --keep-uploads
            else:
                os.unlink(path)

    def long_config(self, path: str) -> LongAnalyzeConfig | None:
        """deft.long's settings (this server's limits and clip config) when the video at `path` is longer than a
        clip may be (the same byte cap), else None."""
        from deft.long.analyze import LongAnalyzeConfig
        from deft.long.stream import longer_than_clip
        from deft.long.tracks import LongConfig

        if not longer_than_clip(path, self.config.limits):
            return None
        return LongAnalyzeConfig(tracks=LongConfig(limits=self.config.limits), clip=self.config)

    def analyse_json(self, video: bytes | str) -> dict:
        """/v1/deft/analyze's answer: a clip's analysis, or for a long video its faces and their spotted,
        analysed intervals (deft.long)."""
        from deft.long.analyze import analyze_long

        with self.video_file(video) as path:
            config = self.long_config(path)
            return (analyze_long(path, config) if config is not None else analyze(path, self.config)).to_dict()

    async def timed(self, fn, *args):
        try:
            return await asyncio.wait_for(run_in_threadpool(fn, *args), self.settings.request_timeout_s)
        except asyncio.TimeoutError:
            raise APIError(504, f"request took longer than {self.settings.request_timeout_s:.0f} s", "timeout") from None

    async def upload(self, file: UploadFile, purpose: str) -> FileObject:
        limit = self.settings.max_upload_bytes
        data = await file.read(limit + 1)
        if len(data) > limit:
            raise APIError(413, f"file larger than {limit // 2**20} MiB", "file_too_large")
        if not data:
            raise APIError(400, "empty file", "empty_file")
        return FileObject(id=self.files.add(data), bytes=len(data), created_at=int(time.time()),
                          filename=os.path.basename(file.filename or "clip.mp4"), purpose=purpose)

    async def analyze(self, request: AnalyzeRequest) -> dict:
        if request.video_url is not None:
            video = decode_data_url(request.video_url, self.settings.max_upload_bytes)
        elif request.file_id is not None:
            video = self.files.path(request.file_id)
        else:
            raise APIError(400, "give video_url (base64 data URL) or file_id", "missing_video")
        async with self.gate:
            result = await self.timed(self.analyse_json, video)
        return {**result, "source": "uploaded video"}

    def check_prompt(self, text: str, param: str) -> None:
        check_tokens(self.engine.model.tokenizer, text, self.settings.max_prompt_tokens, "the prompt", param)

    def deadline(self) -> float:
        return time.monotonic() + self.settings.request_timeout_s

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        self.check_prompt(request.prompt, "prompt")
        count, stop = TokenCount(), threading.Event()
        async with self.gate:
            pieces = self.engine.complete(request.prompt, self.max_tokens(request.max_tokens), count, stop)
            text = await self.timed(collect, pieces, stop, self.deadline())
        return CompletionResponse(id=f"cmpl-{uuid.uuid4().hex[:24]}", created=int(time.time()),
                                  model=self.settings.model_id, engine=self.engine.name,
                                  choices=[CompletionChoice(text=text)], usage=usage_info(count))

    def analyse_for_chat(self, video: bytes | str, interval: tuple[int, int] | None
                         ) -> tuple[Analysis, ClipFeatures] | LongAnswer:
        """A clip's analysis and features, or for a video longer than a clip may be its spotted intervals,
        analysed, to explain (`interval`: (face_id, onset) of the one asked about)."""
        from deft.long.analyze import analyze_long_clips

        with self.video_file(video) as path:
            config = self.long_config(path)
            if config is not None:
                return LongAnswer(*self.long_videos.get(path, lambda: analyze_long_clips(path, config)), interval)
            result = analyze(path, self.config)
            return result, clip_features(result)

    def answer(self, video: bytes | str | None, question: str, interval: tuple[int, int] | None, n_tokens: int,
               count: TokenCount, stop: threading.Event) -> tuple[Iterator[str], dict, Callable[[str], list] | None]:
        """(the answer's pieces, its evidence, what checks its claims once said) for a clip, a long video
        (one explanation per spotted interval) or no video."""
        if video is None:
            return self.engine.complete(question, n_tokens, count, stop), {"engine": self.engine.name, "deft": None}, None
        analysed = self.analyse_for_chat(video, interval)
        if isinstance(analysed, LongAnswer):
            return (analysed.pieces(self.engine, question, n_tokens, count, stop),
                    {"engine": self.engine.name, "deft": analysed.evidence}, lambda text: analysed.claims())
        analysis, features = analysed
        data = analysis.to_dict()
        facts = ClipFacts.from_analysis(data)
        return (self.engine.explain(features, question, n_tokens, count, stop, facts=facts),
                {"engine": self.engine.name, "deft": {k: data[k] for k in ("phases", "aus", "emotion")}},
                lambda text: [c.to_dict() for c in claims(text, facts)])

    async def chat(self, request: ChatCompletionRequest) -> ChatCompletionResponse | EventStream:
        """The answer, or (stream=True) its server-sent events; a stream holds its gate slot until it ends."""
        video, question = self.clip_and_question(request)
        self.check_prompt(question, "messages")
        self.check_request(request)
        n_tokens = self.max_tokens(request.max_tokens or request.max_completion_tokens)
        interval = (request.interval.face_id, request.interval.onset) if request.interval else None
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        count, stop = TokenCount(), threading.Event()
        release = await self.gate.enter()
        try:
            pieces, evidence, check = await self.timed(self.answer, video, question, interval, n_tokens, count, stop)
            if request.stream:
                with_usage = bool(request.stream_options and request.stream_options.include_usage)
                events = self._events(cid, created, pieces, evidence, count if with_usage else None, release, stop,
                                      check)
                return EventStream(events, release)
            text = await self.timed(collect, pieces, stop, self.deadline())
            if check is not None:  # each claim with the fact it rests on (an extra field OpenAI clients ignore)
                evidence["claims"] = check(text)
        except BaseException:
            stop.set()
            release()
            raise
        release()
        return ChatCompletionResponse(id=cid, created=created, model=self.settings.model_id,
                                      choices=[ChatChoice(message=ChatMessageOut(content=text))],
                                      usage=usage_info(count), **evidence)

    async def _events(self, cid: str, created: int, pieces: Iterator[str], evidence: dict, count: TokenCount | None,
                      release: Callable[[], None], stop: threading.Event,
                      check: Callable[[str], list] | None = None) -> AsyncIterator[str]:
        def event(delta: DeltaMessage | None, finish: str | None = None, **extra) -> str:
            choices = [ChunkChoice(delta=delta, finish_reason=finish)] if delta is not None else []
            chunk = ChatCompletionChunk(id=cid, created=created, model=self.settings.model_id, choices=choices, **extra)
            return f"data: {chunk.model_dump_json()}\n\n"

        try:  # the slot is held until the last piece is sent
            yield event(DeltaMessage(role="assistant", content=""), **evidence)
            text = []
            async for piece in each_piece(pieces):
                text.append(piece)
                yield event(DeltaMessage(content=piece))
            checked = {"claims": check("".join(text))} if check is not None else {}
            yield event(DeltaMessage(), "stop", **checked)
            if count is not None:
                yield event(None, usage=usage_info(count))
            yield "data: [DONE]\n\n"
        finally:  # also when the client leaves: the generation stops at its next token
            stop.set()
            release()

    def check_request(self, request: ChatCompletionRequest) -> None:
        """Every message's text together within max_request_tokens (a 400 naming it)."""
        texts = [m.content if isinstance(m.content, str) else " ".join(p.text for p in m.content or ())
                 for m in request.messages]
        check_tokens(self.engine.model.tokenizer, "\n".join(texts), self.settings.max_request_tokens,
                     "the request's messages", "messages")

    def clip_and_question(self, request: ChatCompletionRequest) -> tuple[bytes | str | None, str]:
        """(video bytes or uploaded path or None, question) from the last user message."""
        users = [m for m in request.messages if m.role == "user"]
        if not users:
            raise APIError(400, "no user message", "invalid_messages", "messages")
        content = users[-1].content
        if content is None:
            raise APIError(400, "message content must be a string or a list of parts", "invalid_messages", "messages")
        if isinstance(content, str):
            return None, content or DEFAULT_QUESTION
        texts, video = [], None
        for part in content:
            if part.type == "text":
                texts.append(part.text)
            elif part.type == "video_url":
                video = decode_data_url(part.video_url.url if part.video_url else None, self.settings.max_upload_bytes)
            elif part.type == "file":
                video = self.files.path(part.file.file_id if part.file else "")
            else:
                raise APIError(400, f"unsupported content part type {part.type!r}; use text, video_url or file",
                               "invalid_part")
        return video, " ".join(t for t in texts if t.strip()) or DEFAULT_QUESTION
