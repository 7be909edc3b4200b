"""Bounded work per request: prompts capped in tokens, and a generation stops (engine lock freed) once its
client leaves or its deadline passes. Loopback only, bounded in count and time."""

import threading
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from deft.model.config import DeftConfig
from deft.model.deft import DeftModel
from deft.serve.api import create_app
from deft.serve.engines import TokenCount, TransformersEngine
from deft.serve.settings import ServeSettings
from tests.loopback import raw_request, run_in_thread
from tests.tiny import tiny_llm

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
TOKEN_S = 0.02  # each forward pass of the slowed tiny LLM takes at least this long
FORWARDS = [0]  # forward passes of the tiny LLM so far (a left answer must stop short of its max_tokens)


@pytest.fixture(scope="module")
def engine():
    """The real engine on the tiny LLM, each forward pass slowed so a cut-short answer is visible."""
    llm, tok = tiny_llm()

    def slow(module, args):
        FORWARDS[0] += 1
        time.sleep(TOKEN_S)

    llm.register_forward_pre_hook(slow)
    return TransformersEngine(DeftModel(DeftConfig(expert_dim=32, conv_width=8), llm, tok).eval())


@pytest.fixture(scope="module")
def server(engine):
    settings = ServeSettings(api_keys=frozenset({KEY}), max_upload_bytes=8 * 2**20, max_new_tokens=400,
                             max_prompt_tokens=64, max_request_tokens=256, request_timeout_s=2.0,
                             body_timeout_s=2.0)
    url, server, thread = run_in_thread(create_app(engine, settings))
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def lock_free_within(engine, seconds: float) -> bool:
    if engine.lock.acquire(timeout=seconds):
        engine.lock.release()
        return True
    return False


def test_a_stop_set_before_the_first_token_generates_nothing(engine):
    count, stop = TokenCount(), threading.Event()
    stop.set()
    assert list(engine.complete("AU six", 50, count, stop)) == [] and count.completion == 0
    assert lock_free_within(engine, 1.0)


def test_a_consumer_that_leaves_ends_the_generation(engine):
    count, stop = TokenCount(), threading.Event()
    pieces = engine.complete("AU six and twelve", 400, count, stop)
    next(pieces)
    pieces.close()
    assert stop.is_set() and lock_free_within(engine, 5.0)
    assert count.completion < 200  # 400 tokens would take at least 8 s


def test_a_stream_whose_client_left_does_not_wait_for_the_next_piece():
    """A tiny model can go hundreds of tokens without a word boundary: the reader must go at once."""
    import anyio

    from deft.serve.api.serving import each_piece

    release = threading.Event()

    def pieces():
        yield "first"
        release.wait(30)  # the next piece is far away
        yield "never read"

    async def leave_after_first() -> list[str]:
        got = []

        async def read():
            async for piece in each_piece(pieces()):
                got.append(piece)

        with anyio.move_on_after(0.5):
            await read()
        return got

    started = time.perf_counter()
    got = anyio.run(leave_after_first)
    waited = time.perf_counter() - started
    release.set()
    assert got == ["first"] and waited < 10  # it waited the full 30 s before


@pytest.mark.parametrize("route, body", [
    ("/v1/completions", {"prompt": "AU six " * 100}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "AU six " * 100}]}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": [{"type": "text", "text": "AU six " * 100}]}]}),
])
def test_a_prompt_over_the_limit_gets_a_400_naming_it(server, route, body):
    r = httpx.post(server + route, json=body, headers=AUTH, timeout=30)
    assert r.status_code == 400 and r.json()["error"]["code"] == "too_many_tokens"
    assert "64-token limit" in r.json()["error"]["message"]


def test_a_huge_message_is_refused_without_tokenizing_it(server):
    started = time.perf_counter()
    r = httpx.post(server + "/v1/chat/completions", headers=AUTH, timeout=60,
                   json={"messages": [{"role": "user", "content": "x" * (5 * 2**20)}]})
    assert r.status_code == 400 and "64-token limit" in r.json()["error"]["message"]
    assert time.perf_counter() - started < 20  # it took 120 s and a 504 before


def test_the_messages_together_are_capped(server):
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": "AU six " * 8} for i in range(41)]
    r = httpx.post(server + "/v1/chat/completions", json={"messages": messages}, headers=AUTH, timeout=30)
    assert r.status_code == 400 and "256-token limit" in r.json()["error"]["message"]


def test_the_deadline_stops_the_generation_and_frees_the_engine(server, engine):
    r = httpx.post(server + "/v1/completions", json={"prompt": "AU six", "max_tokens": 400}, headers=AUTH, timeout=30)
    assert r.status_code == 504  # 400 slowed tokens take at least 8 s; the timeout is 2 s
    assert lock_free_within(engine, 3.0)


def test_a_client_that_leaves_a_stream_frees_the_engine(server, engine):
    body = {"messages": [{"role": "user", "content": "AU six"}], "max_tokens": 400, "stream": True}
    before = FORWARDS[0]
    with httpx.stream("POST", server + "/v1/chat/completions", json=body, headers=AUTH, timeout=30) as r:
        next(r.iter_lines())  # the first event, then the client goes
    assert lock_free_within(engine, 30.0)
    # Counted in forward passes, not seconds (a busy machine slows both): the whole answer would take 400.
    assert FORWARDS[0] - before < 200
    # The next request is served; the left request's handler may still hold its gate slot a moment on a busy machine.
    for _ in range(5):
        r = httpx.post(server + "/v1/completions", json={"prompt": "AU", "max_tokens": 2}, headers=AUTH, timeout=30)
        if r.status_code == 200:
            break
    assert r.status_code == 200


def test_a_chunked_body_is_refused_once_past_the_limit_before_it_ends(server):
    head = (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() +
            b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"x" * 65536
    chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
    sent = []

    def chunks():  # 64 MiB at most; the limit is about 10.7 MiB; never the closing chunk
        for _ in range(1024):
            sent.append(1)
            yield chunk

    response = raw_request(server, head, chunks())
    assert response.startswith(b"HTTP/1.1 413") and b"too_large" in response
    assert len(sent) < 1024  # answered before the client stopped sending


def test_a_stalled_body_gets_a_408(server):
    head = (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() +
            b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"prompt\": ")
    started = time.perf_counter()
    response = raw_request(server, head, [], timeout=15)
    assert response.startswith(b"HTTP/1.1 408") and time.perf_counter() - started < 10


def test_uploads_are_deleted_at_shutdown(engine, happy_mp4):
    url, server, thread = run_in_thread(create_app(engine, ServeSettings(api_keys=frozenset({KEY}))))
    try:
        r = httpx.post(url + "/v1/files", headers=AUTH, timeout=30, files={"file": ("c.mp4", open(happy_mp4, "rb"))})
        assert r.status_code == 200
        folder = next(p for p in Path(tempfile.gettempdir()).glob("deft-serve-*") if (p / (r.json()["id"] + ".mp4")).exists())
        assert oct(folder.stat().st_mode & 0o777) == "0o700"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert not folder.exists()
