"""The bodies of all requests together are bounded: while requests hold bodies (here: still arriving, as they
would while waiting at the gate), one that would pass `max_bodies_bytes` gets a 503 with Retry-After in
OpenAI's shape, before its body is read (Content-Length) or as it arrives (chunked); bytes are given back
when a request ends, refused or not. Loopback only, a few seconds."""

import socket
from contextlib import ExitStack

import httpx
import pytest

from deft.model.config import DeftConfig
from deft.model.deft import DeftModel
from deft.serve.api import create_app
from deft.serve.engines import TransformersEngine
from deft.serve.settings import ServeSettings
from tests.loopback import raw_request, run_in_thread
from tests.tiny import tiny_llm

MiB = 2**20
BODY = int(1.2 * MiB)  # under the one-body limit (1 MiB video -> ~1.4 MiB body); three pass the 3 MiB budget


@pytest.fixture(scope="module")
def server():
    llm, tok = tiny_llm()
    engine = TransformersEngine(DeftModel(DeftConfig(expert_dim=32, conv_width=8), llm, tok).eval())
    settings = ServeSettings(max_upload_bytes=MiB, max_bodies_bytes=3 * MiB, body_timeout_s=8.0)
    url, server, thread = run_in_thread(create_app(engine, settings))
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def head(length: int | None) -> bytes:
    size = b"Content-Length: %d" % length if length is not None else b"Transfer-Encoding: chunked"
    return b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + size + b"\r\n\r\n"


def held_body(stack: ExitStack, server: str) -> None:
    """A request whose head and first body bytes are in and whose body is still coming (its socket stays open)."""
    host, port = server.removeprefix("http://").split(":")
    sock = stack.enter_context(socket.create_connection((host, int(port)), timeout=10))
    sock.sendall(head(BODY) + b'{"prompt": "')


def refused_busy(response: httpx.Response) -> bool:
    return (response.status_code == 503 and response.headers.get("retry-after") == "5"
            and response.json()["error"]["code"] == "server_busy")


def test_a_body_past_the_budget_gets_a_503_before_it_is_read(server):
    with ExitStack() as stack:
        held_body(stack, server)
        held_body(stack, server)
        r = httpx.post(server + "/v1/completions", content=b"x" * BODY, timeout=10,
                       headers={"content-type": "application/json"})
        assert refused_busy(r), r.text
        small = httpx.post(server + "/v1/completions", json={"prompt": "AU", "max_tokens": 1}, timeout=30)
        assert small.status_code == 200  # what is left of the budget still serves
    for _ in range(5):  # 6 MiB in turn through a 3 MiB budget: every body's bytes came back when it ended
        r = httpx.post(server + "/v1/completions", content=b"x" * BODY, timeout=10,
                       headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


def test_a_chunked_body_past_the_budget_gets_a_503_as_it_arrives(server):
    piece = b"x" * 65536
    chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
    sent = []

    def chunks():  # 1.2 MiB at most, never the closing chunk: the 503 must come while it arrives
        for _ in range(BODY // len(piece)):
            sent.append(1)
            yield chunk

    with ExitStack() as stack:
        held_body(stack, server)
        held_body(stack, server)
        response = raw_request(server, head(None), chunks())
    assert response.startswith(b"HTTP/1.1 503") and b"retry-after: 5" in response.lower()
    assert b"server_busy" in response and len(sent) < BODY // len(piece)
    r = httpx.post(server + "/v1/completions", json={"prompt": "AU", "max_tokens": 1}, timeout=30)
    assert r.status_code == 200
