"""Slow clients cannot hold a connection: a request head must be in within head_timeout_s of the connection
(or of the first byte of a later request on it), a body within body_total_s of its head, however the
client paces its bytes. The server runs with the protocol `deft serve` gives uvicorn. Loopback only;
every test ends within a few seconds."""

import socket
import time

import httpx
import pytest

from deft.model.config import DeftConfig
from deft.model.deft import DeftModel
from deft.serve.api import create_app
from deft.serve.engines import TransformersEngine
from deft.serve.head_timeout import head_timeout_protocol
from deft.serve.settings import ServeSettings
from tests.loopback import raw_request, run_in_thread
from tests.tiny import tiny_llm

HEAD_S, STALL_S, TOTAL_S = 1.0, 1.0, 2.5
HEAD = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


@pytest.fixture(scope="module")
def server():
    llm, tok = tiny_llm()
    engine = TransformersEngine(DeftModel(DeftConfig(expert_dim=32, conv_width=8), llm, tok).eval())
    settings = ServeSettings(head_timeout_s=HEAD_S, body_timeout_s=STALL_S, body_total_s=TOTAL_S, max_new_tokens=2)
    url, server, thread = run_in_thread(create_app(engine, settings), http=head_timeout_protocol(settings.head_timeout_s))
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def timed(fn, *args, **kw) -> tuple[bytes, float]:
    started = time.perf_counter()
    return fn(*args, **kw), time.perf_counter() - started


def test_a_head_sent_one_byte_at_a_time_is_cut_off(server):
    sent = []

    def bytes_of_head():  # 200 header bytes, 0.25 s apart: 50 s if the server waited for them all
        for byte in (b"X-Slow: " + b"a" * 190):
            sent.append(byte)
            yield bytes([byte])

    response, seconds = timed(raw_request, server, b"POST /v1/completions HTTP/1.1\r\n", bytes_of_head(), pause=0.25)
    assert response.startswith(b"HTTP/1.1 408") and b'"code": "timeout"' in response
    assert HEAD_S <= seconds < HEAD_S + 3 and len(sent) < 20


def test_a_connection_that_sends_nothing_is_closed(server):
    response, seconds = timed(raw_request, server, b"", [b""] * 200, pause=0.05)
    assert response.startswith(b"HTTP/1.1 408") and HEAD_S <= seconds < HEAD_S + 3


def test_a_slow_head_on_a_kept_alive_connection_is_cut_off(server):
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while b"}" not in first:  # the whole first answer (head and JSON body)
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        sock.settimeout(0.25)
        started, answer = time.perf_counter(), b""
        for byte in b"GET /health HTTP/1.1\r\nX-Slow: " + b"a" * 40:  # one byte every 0.25 s
            try:
                sock.sendall(bytes([byte]))
                answer = sock.recv(65536)
                break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        seconds = time.perf_counter() - started
    assert answer.startswith(b"HTTP/1.1 408") and HEAD_S <= seconds < HEAD_S + 3


def test_a_body_trickled_under_the_stall_limit_is_cut_off_at_the_total(server):
    head = HEAD + b"Content-Length: 1000\r\n\r\n{\"prompt\": \""
    response, seconds = timed(raw_request, server, head, [b"a"] * 100, pause=STALL_S / 2)
    assert response.startswith(b"HTTP/1.1 408") and b"not received within 2.5 s" in response
    assert TOTAL_S <= seconds < TOTAL_S + 3


def test_a_slow_body_within_the_limits_is_answered(server):
    """The head's deadline ends with the head: a body taking longer than it, within its own limits, is served."""
    body = b'{"prompt": "AU six", "max_tokens": 2}'
    head = HEAD + b"Content-Length: %d\r\n\r\n" % len(body)
    response, seconds = timed(raw_request, server, head, [body[:10], body[10:20], body[20:]], pause=0.6)
    assert response.startswith(b"HTTP/1.1 200") and seconds > HEAD_S
    assert httpx.get(server + "/health", timeout=10).status_code == 200
