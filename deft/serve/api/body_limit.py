"""Request bodies bounded as they arrive: a 413 once a body passes the size limit, a 408 when it stalls or
takes too long in all, a 503 when the bodies of all requests together would pass their budget.

Not FastAPI's `max_body_size`: its 413 for a too-large Content-Length is plain text, not OpenAI's shape.
"""

from __future__ import annotations

import asyncio

from deft.serve.openai_errors import RETRY_AFTER, error_response


class _Refused(Exception):
    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers

    def response(self):
        return error_response(self.status, self.message, self.code, headers=self.headers)


class BodyBudget:
    """Bytes of request bodies held at once, all requests together: a body counts from its Content-Length (up
    front) or its bytes as they arrive until its response ends, waiting at the concurrency gate included.
    Used from the event loop only."""

    def __init__(self, max_bytes: int):
        self.max_bytes, self.held = max_bytes, 0

    def take(self, n: int) -> bool:
        if self.held + n > self.max_bytes:
            return False
        self.held += n
        return True

    def give(self, n: int) -> None:
        self.held -= n


def _refusal(exc: BaseException) -> _Refused | None:
    """The _Refused in `exc`, or in an exception group (BaseHTTPMiddleware's task group) made only of it."""
    if isinstance(exc, _Refused):
        return exc
    inner = [_refusal(e) for e in getattr(exc, "exceptions", ())]
    return inner[0] if inner and all(inner) else None


class BodyLimit:
    """ASGI middleware in front of every route: a Content-Length over `max_bytes` gets a 413 before any body is
    read; a body without one (chunked) is counted as it streams in and refused the moment it passes the limit,
    so no handler buffers more; a body that sends nothing for `timeout_s`, or is not all in `total_s` after the
    head, gets a 408 (a slow client cannot hold a connection and a handler open, however it paces its bytes);
    a body that would take `budget` past its bytes gets a 503 with Retry-After (before it is read when it
    has a Content-Length), so requests queued at the gate cannot fill the memory together."""

    def __init__(self, app, max_bytes: int, timeout_s: float, total_s: float, budget: BodyBudget):
        self.app, self.max_bytes, self.timeout_s, self.total_s = app, max_bytes, timeout_s, total_s
        self.budget = budget
        self.too_large = _Refused(413, f"request body over the {max_bytes / 2**20:.1f} MiB limit", "too_large")
        self.busy = _Refused(503, f"server busy: the request bodies in progress fill the {budget.max_bytes / 2**20:.0f}"
                                  " MiB they may hold together; retry later", "server_busy",
                             RETRY_AFTER)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await self.too_large.response()(scope, receive, send)
        if not self.budget.take(int(length or 0)):
            return await self.busy.response()(scope, receive, send)
        body, started = _Body(self, receive, int(length or 0)), False

        async def watched_send(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, body.receive, watched_send)
        except Exception as exc:
            refused = _refusal(exc)
            if started or refused is None:
                raise
            await refused.response()(scope, receive, send)
        finally:
            self.budget.give(body.held)


class _Body:
    """One request's body as the app receives it: its bytes, its time, its share of the budget (`held`)."""

    def __init__(self, limit: BodyLimit, receive, held: int):
        self.limit, self._receive, self.held, self.seen, self.done = limit, receive, held, 0, False
        self.deadline = asyncio.get_running_loop().time() + limit.total_s

    async def receive(self):
        limit = self.limit
        if self.done:  # the body is in: later receives wait for a disconnect, for as long as a stream lasts
            return await self._receive()
        left = self.deadline - asyncio.get_running_loop().time()
        try:
            message = await asyncio.wait_for(self._receive(), min(limit.timeout_s, max(left, 0.0)))
        except asyncio.TimeoutError:
            why = f"stalled for {limit.timeout_s:g} s" if left > limit.timeout_s else f"not received within {limit.total_s:g} s"
            raise _Refused(408, f"request body {why}", "timeout") from None
        if message["type"] != "http.request":
            self.done = True
            return message
        self.seen += len(message.get("body", b""))
        self.done = not message.get("more_body", False)
        if self.seen > limit.max_bytes:
            raise limit.too_large
        if self.seen > self.held:  # a chunked body: counted as it arrives
            if not limit.budget.take(self.seen - self.held):
                raise limit.busy
            self.held = self.seen
        return message
