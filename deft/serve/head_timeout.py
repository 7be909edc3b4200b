"""uvicorn's HTTP/1.1 protocol with a deadline for each request's head (request line and headers).

uvicorn bounds only the idle time between requests (`timeout_keep_alive`), and every byte received resets
it, so a client sending one header byte every few seconds holds its connection forever (slowloris); ASGI
middleware cannot help, it sees a request only once its head is in. Here the deadline runs from the
connection's start, or from the first byte after a finished response on a kept-alive connection, to the
end of the next head; past it the client gets a 408 in OpenAI's shape and the connection is closed.
The body's bounds (size, stalls, total time) are BodyLimit's.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.h11_impl import H11Protocol


def _timeout_response(seconds: float) -> bytes:
    body = json.dumps({"error": {"message": f"request head not received within {seconds:g} s", "type": "timeout",
                                 "param": None, "code": "timeout"}}).encode()
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % len(body)) + body


class HeadTimeoutProtocol(H11Protocol):
    """H11Protocol that closes a connection whose request head takes longer than `head_timeout_s`."""

    head_timeout_s: float = 10.0
    _head_timer: asyncio.TimerHandle | None = None
    _head_cycle: object = None  # the request cycle current when the timer was armed; a new one means a head came

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # bytes after a finished response: the next request's head has begun
        super().data_received(data)
        if self.cycle is not self._head_cycle:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._head_cycle = self.cycle
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.cycle is self._head_cycle and not self.transport.is_closing():
            self.transport.write(_timeout_response(self.head_timeout_s))
            self.transport.close()


def head_timeout_protocol(seconds: float) -> type[HeadTimeoutProtocol]:
    """The protocol class to give uvicorn (`http=`), with its deadline set to `seconds`."""
    return type("HeadTimeoutProtocol", (HeadTimeoutProtocol,), {"head_timeout_s": seconds})
