"""Request and response models of the API: the part of OpenAI's protocol deft serves, plus its extras
(a chat answer carries `engine` and the clip's analysis under `deft`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer


class VideoURL(BaseModel):
    url: str  # a base64 data URL; the server reads no paths or remote URLs


class FileRef(BaseModel):
    file_id: str = ""


class ContentPart(BaseModel):
    """One part of a message: text, a video as a data URL, or an uploaded file (other types get 400)."""

    type: str
    text: str = ""
    video_url: VideoURL | None = None
    file: FileRef | None = None


class ChatMessage(BaseModel):
    role: str
    content: str | list[ContentPart] | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False  # a last chunk with `usage` and no choices


class IntervalRef(BaseModel):
    """One spotted interval of a long video (as /v1/deft/analyze lists them): its face and onset frame."""

    face_id: int
    onset: int


class ChatCompletionRequest(BaseModel):
    messages: list[ChatMessage] = Field(min_length=1)
    model: str | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    interval: IntervalRef | None = None  # a long video: answer about this interval only (deft's extra)


class CompletionRequest(BaseModel):
    prompt: str = Field(min_length=1)
    model: str | None = None
    max_tokens: int | None = Field(None, ge=1)


class AnalyzeRequest(BaseModel):
    video_url: str | None = None  # base64 data URL
    file_id: str | None = None  # from POST /v1/files


class UsageInfo(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatMessageOut
    finish_reason: str = "stop"


class ChatCompletionResponse(BaseModel):
    model_config = ConfigDict(extra="allow")  # engine, deft: the evidence behind the answer

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: UsageInfo


class DeltaMessage(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None

    @model_serializer(mode="wrap")
    def _set_only(self, handler) -> dict:  # {"content": "..."}, or {} in the last chunk
        return {k: v for k, v in handler(self).items() if v is not None}


class ChunkChoice(BaseModel):
    index: int = 0
    delta: DeltaMessage
    finish_reason: str | None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed answer."""

    model_config = ConfigDict(extra="allow")  # the first chunk carries engine and deft

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: UsageInfo | None = None  # only in the last chunk, when stream_options.include_usage asks for it

    @model_serializer(mode="wrap")
    def _usage_if_set(self, handler) -> dict:
        data = handler(self)
        if data.get("usage") is None:
            data.pop("usage", None)
        return data


class CompletionChoice(BaseModel):
    index: int = 0
    text: str
    finish_reason: str = "stop"
    logprobs: None = None


class CompletionResponse(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    engine: str
    choices: list[CompletionChoice]
    usage: UsageInfo


class FileObject(BaseModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
