"""Generation engines behind one interface: a vLLM server where one is configured, plain transformers otherwise."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import httpx
import torch

from deft.model.batch import collate
from deft.model.decode import greedy_decode
from deft.instruct.faithful import ClipFacts, caveat, summary
from deft.model.features import ClipFeatures
from deft.model.guard import Guard, GuardGaveUp
from deft.model.prompt import stop_ids
from deft.serve.openai_errors import APIError
from deft.serve.vllm_process import SERVED_NAME, VLLMServer


@dataclass
class TokenCount:
    """Tokens of one answer as the LLM saw them, filled in while it is generated (the API's `usage`).

    prompt: the positions the LLM read (a clip's soft tokens count, as vLLM counts prompt embeddings);
    completion: the tokens it generated, the stop token included.
    """

    prompt: int = 0
    completion: int = 0


class Engine(Protocol):
    name: str

    def explain(self, features: ClipFeatures, question: str, max_new_tokens: int, count: TokenCount | None = None,
                stop: threading.Event | None = None, facts: ClipFacts | None = None) -> Iterator[str]:
        """Answer `question` about one clip; yields text pieces as they are generated, adding to `count`;
        generation ends at the next token once `stop` is set (the client left or the deadline passed).
        With the clip's `facts` the answer states only what they hold (see `faithful`)."""

    def complete(self, prompt: str, max_new_tokens: int, count: TokenCount | None = None,
                 stop: threading.Event | None = None) -> Iterator[str]:
        """Plain text completion by the (adapted) LLM, no clip."""


def faithful(facts: ClipFacts | None, generate) -> Iterator[str]:
    """The pieces of `generate()`, after a plain caveat when the analysis cannot tell; none at all when
    nothing moved (the model would have to invent an expression); the facts in one sentence when the
    checked model says nothing, or no whole sentence that checks (the only template answer)."""
    note = caveat(facts) if facts is not None else None
    if note:
        yield note + (" " if facts.expressive else "")
    if facts is not None and not facts.expressive:
        return
    said = False
    for piece in generate():
        said = said or bool(piece.strip())
        yield piece
    if facts is not None and not said:
        yield summary(facts)


class Cancelled(Exception):
    """Raised inside a generation from its streamer once its stop event is set, so the engine lock is freed."""


class _Counted:
    """A transformers streamer that counts the token ids it passes on (its first put is the prompt)."""

    def __init__(self, streamer, count: TokenCount, stop: threading.Event):
        self.streamer, self.count, self.stop, self.prompt_seen = streamer, count, stop, False

    def put(self, value: torch.Tensor) -> None:
        if self.stop.is_set():
            raise Cancelled
        if self.prompt_seen:
            self.count.completion += value.numel()
        else:
            self.count.prompt += value.numel()  # empty when the prompt is embeddings: the caller counts those
            self.prompt_seen = True
        self.streamer.put(value)

    def end(self) -> None:
        self.streamer.end()


class TransformersEngine:
    """DeftModel's greedy (speculative) decoding with a streamer thread: works wherever torch does."""

    name = "transformers"

    def __init__(self, model):
        self.model = model
        self.lock = threading.Lock()  # one generation at a time: HF models are not re-entrant

    def _stream(self, run, count: TokenCount | None, stop: threading.Event | None) -> Iterator[str]:
        from transformers import TextIteratorStreamer

        text = TextIteratorStreamer(self.model.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=300)
        stop = stop if stop is not None else threading.Event()
        streamer = _Counted(text, count if count is not None else TokenCount(), stop)
        errors: list[BaseException] = []

        def target():
            try:
                with self.lock:
                    run(streamer)
            except BaseException as err:  # noqa: BLE001 - surfaced to the caller below
                errors.append(err)
                text.end()

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        try:
            for piece in text:
                if piece:
                    yield piece
        finally:  # a consumer that leaves early (the generator closed) ends the generation at its next token
            stop.set()
        thread.join()
        if errors and not isinstance(errors[0], Cancelled):
            raise errors[0]

    def explain(self, features: ClipFeatures, question: str, max_new_tokens: int, count: TokenCount | None = None,
                stop: threading.Event | None = None, facts: ClipFacts | None = None) -> Iterator[str]:
        model = self.model

        @torch.no_grad()
        def run(streamer: _Counted):  # DeftModel.generate, keeping the prompt's length for the count
            embeds = model.prompt_embeds(collate([features]), question)[None]  # (1, L, H)
            streamer.count.prompt += embeds.shape[1]
            greedy_decode(model.llm, embeds, max_new_tokens, stop_ids(model.tokenizer), drafts=model.drafts,
                          streamer=streamer, guard=Guard(model.tokenizer, facts, question) if facts is not None else None)

        return faithful(facts, lambda: self._stream(run, count, stop))

    def complete(self, prompt: str, max_new_tokens: int, count: TokenCount | None = None,
                 stop: threading.Event | None = None) -> Iterator[str]:
        tok = self.model.tokenizer

        @torch.no_grad()
        def run(streamer):
            ids = tok(prompt, return_tensors="pt")
            self.model.llm.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False, streamer=streamer,
                                    eos_token_id=stop_ids(tok), pad_token_id=tok.pad_token_id or tok.eos_token_id)

        return self._stream(run, count, stop)


class VLLMEngine:
    """A vLLM server (deft/serve/vllm_process.py) serving the backbone + deft's LoRA as "deft", over HTTP.

    Clips enter as prompt embeddings built here by DeftModel, the same rows HF generate sees (a model from
    deft.model.embedder.load_prompt_model reads them from the backbone's checkpoint, bit-identical): Gemma's
    token embeddings already carry the sqrt(hidden) scale and vLLM's Gemma 3 takes prompt embeddings as
    they are. The LoRA (q/k/v/o only, so the embeddings do not depend on it) applies inside vLLM. vLLM
    runs in the LLM's dtype; greedy, so the text equals TransformersEngine's (tests/test_serve_vllm.py).
    Text goes as token ids and comes back as token ids (deft's tokenizer on both ends), so the server
    needs no tokenizer (--skip-tokenizer-init; the memory it saves: serve/README.md) and any vLLM server
    answers alike.
    """

    name = "vllm"

    def __init__(self, model, server: VLLMServer, timeout_s: float = 300.0):
        self.model, self.server, self.served = model, server, SERVED_NAME
        self.http = httpx.Client(base_url=server.url, timeout=httpx.Timeout(timeout_s, connect=10.0))
        self.stop = stop_ids(model.tokenizer)

    def _ids(self, request: dict, max_new_tokens: int, count: TokenCount, stop: threading.Event | None
             ) -> Iterator[list[int] | str]:
        """Each event's generated token ids (or its text, from a server that sends no ids) of a streamed
        /v1/completions (server-sent events), counted; vLLM's refusals become APIErrors. Once `stop` is set,
        or the consumer closes this generator, the connection is closed, which aborts the request in vLLM."""
        body = {"model": self.served, "max_tokens": max_new_tokens, "temperature": 0.0, "stream": True,
                "stop_token_ids": self.stop, "return_token_ids": True, **request}
        try:
            with self.http.stream("POST", "/v1/completions", json=body) as response:
                if response.status_code != 200:
                    raise _refusal(response.status_code, response.read())
                for line in response.iter_lines():
                    if stop is not None and stop.is_set():
                        return
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    event = json.loads(line[6:])
                    if "error" in event:
                        raise APIError(503, f"vLLM engine failed mid-answer: {event['error']}", "engine_error")
                    choice = event["choices"][0] if event.get("choices") else {}
                    ids = choice.get("token_ids")  # with return_token_ids vLLM sends every generated id
                    count.completion += len(ids or ())
                    yield list(ids) if ids is not None else choice.get("text", "")
        except httpx.HTTPError as err:
            raise APIError(503, f"vLLM engine at {self.server.url} unreachable ({type(err).__name__}); "
                                "see its log", "engine_unavailable") from None

    def _stream(self, request: dict, max_new_tokens: int, count: TokenCount, stop: threading.Event | None
                ) -> Iterator[str]:
        """Text pieces of a streamed /v1/completions."""
        text = Detokenizer(self.model.tokenizer)
        for ids in self._ids(request, max_new_tokens, count, stop):
            piece = text.add(ids) if isinstance(ids, list) else ids
            if piece:
                yield piece
        if rest := text.flush():
            yield rest

    @torch.no_grad()
    def _embeds_request(self, features: ClipFeatures, question: str, answer: list[int] = ()) -> tuple[dict, int]:
        """The request body's prompt (the clip's prompt embeddings, then `answer`'s) and its length."""
        embeds = self.model.prompt_embeds(collate([features]), question, answer)  # (L, H), in the LLM's dtype
        buffer = io.BytesIO()
        torch.save(embeds.contiguous(), buffer)  # vLLM reads base64(torch.save(tensor)), casts to its --dtype
        return {"prompt_embeds": base64.b64encode(buffer.getvalue()).decode()}, embeds.shape[0]

    def explain(self, features: ClipFeatures, question: str, max_new_tokens: int, count: TokenCount | None = None,
                stop: threading.Event | None = None, facts: ClipFacts | None = None) -> Iterator[str]:
        count = count if count is not None else TokenCount()
        if facts is not None:
            return faithful(facts, lambda: self._checked(features, question, max_new_tokens, count, stop, facts))
        request, length = self._embeds_request(features, question)
        count.prompt += length
        return self._stream(request, max_new_tokens, count, stop)

    def _checked(self, features: ClipFeatures, question: str, max_new_tokens: int, count: TokenCount,
                 stop: threading.Event | None, facts: ClipFacts) -> Iterator[str]:
        """Greedy decoding checked as TransformersEngine checks it (deft.model.guard), by re-decoding: vLLM
        streams on from the answer so far until the guard finds an unbacked claim; the stream is dropped,
        the claim's first token is banned at its position (logit_bias -100, one token), and it streams on; what
        the guard writes itself (`Guard.forced`: a wrong emotion verdict's label) is added without asking vLLM."""
        guard, tokens, sent = Guard(self.model.tokenizer, facts, question), [], 0
        text, stops, gave_up = Detokenizer(self.model.tokenizer), set(self.stop), False
        while not (tokens and tokens[-1] in stops) and len(tokens) < max_new_tokens and not gave_up:
            bans, forced = guard.banned(len(tokens)), guard.forced_from(len(tokens))[: max_new_tokens - len(tokens)]
            if forced:  # the guard writes these itself (the analysis' label), as TransformersEngine does
                events = (ids for ids in [forced])
            else:
                request, length = self._embeds_request(features, question, tokens)
                count.prompt = count.prompt or length  # the clip's prompt, once
                if bans:  # this position only: one token with the bans, then on without them
                    request["logit_bias"] = {str(t): -100.0 for t in bans}
                events = self._ids(request, 1 if bans else max_new_tokens - len(tokens), TokenCount(), stop)
            rewound = False
            for ids in events:
                tokens += ids if isinstance(ids, list) else self.model.tokenizer.encode(ids, add_special_tokens=False)
                done = tokens[-1] in stops or len(tokens) >= max_new_tokens
                try:
                    bad = guard.first_bad(tokens, final=done)
                    if bad is not None:
                        tokens, rewound = tokens[: guard.rewind(tokens, bad, floor=sent)], True
                except GuardGaveUp:
                    events.close()
                    gave_up = True
                    break
                if rewound:
                    events.close()  # closes the connection: vLLM aborts the request
                    break
                settled = guard.settled(tokens, done)
                if settled > sent and (piece := text.add(tokens[sent:settled])):
                    yield piece
                sent = max(sent, settled)
            if stop is not None and stop.is_set():
                return
        tokens = guard.end(tokens, sent, max_new_tokens)  # whole checked sentences, as greedy_decode ends
        count.completion += len(tokens)
        if len(tokens) > sent and (piece := text.add(tokens[sent:])):
            yield piece
        if rest := text.flush():
            yield rest

    def complete(self, prompt: str, max_new_tokens: int, count: TokenCount | None = None,
                 stop: threading.Event | None = None) -> Iterator[str]:
        ids = self.model.tokenizer(prompt)["input_ids"]  # with BOS, as TransformersEngine.complete
        count = count if count is not None else TokenCount()
        count.prompt += len(ids)
        return self._stream({"prompt": ids}, max_new_tokens, count, stop)

    def close(self) -> None:
        """Stop the vLLM server if deft started it."""
        self.http.close()
        self.server.stop()


class Detokenizer:
    """Streamed token ids -> text pieces that join to tokenizer.decode(all ids, skip_special_tokens=True),
    the text TextIteratorStreamer gives; a piece ending in a partial UTF-8 character waits for the next id."""

    def __init__(self, tokenizer):
        self.tokenizer, self.ids, self.sent = tokenizer, [], 0

    def add(self, ids: list[int]) -> str:
        self.ids += ids
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return ""
        piece, self.sent = text[self.sent:], len(text)
        return piece

    def flush(self) -> str:
        """What add held back (an answer cut off mid-character)."""
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True) if self.ids else ""
        piece, self.sent = text[self.sent:], len(text)
        return piece


def _refusal(status: int, body: bytes) -> APIError:
    """vLLM's error answer as deft's: its 4xx stay 400 (e.g. a prompt over --max-model-len), the rest 503."""
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = body.decode(errors="replace")[:300]
    if 400 <= status < 500:
        return APIError(400, f"vLLM engine refused the request: {message}", "engine_refused")
    return APIError(503, f"vLLM engine error {status}: {message}", "engine_error")
