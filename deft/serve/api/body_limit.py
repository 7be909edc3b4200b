"""Request bodies bounded as they arrive: a 413 once a body passes the size limit, a 408 when it stalls or
takes too long in all.

Not FastAPI's `max_body_size`: its 413 for a too-large Content-Length is plain text, not OpenAI's shape.
"""

from __future__ import annotations

import asyncio

from deft.serve.openai_errors import error_response


class _Refused(Exception):
    def __init__(self, status: int, message: str, code: str):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


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
    head, gets a 408 (a slow client cannot hold a connection and a handler open, however it paces its bytes)."""

    def __init__(self, app, max_bytes: int, timeout_s: float, total_s: float):
        self.app, self.max_bytes, self.timeout_s, self.total_s = app, max_bytes, timeout_s, total_s

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = _Refused(413, f"request body over the {self.max_bytes / 2**20:.1f} MiB limit", "too_large")
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await error_response(too_large.status, too_large.message, too_large.code)(scope, receive, send)
        seen, done, started = 0, False, False
        deadline = asyncio.get_running_loop().time() + self.total_s

        async def bounded_receive():
            nonlocal seen, done
            if done:  # the body is in: later receives wait for a disconnect, for as long as a stream lasts
                return await receive()
            left = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), min(self.timeout_s, max(left, 0.0)))
            except asyncio.TimeoutError:
                why = (f"stalled for {self.timeout_s:g} s" if left > self.timeout_s
                       else f"not received within {self.total_s:g} s")
                raise _Refused(408, f"request body {why}", "timeout") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                done = not message.get("more_body", False)
                if seen > self.max_bytes:
                    raise too_large
            else:
                done = True
            return message

        async def watched_send(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except Exception as exc:
            refused = _refusal(exc)
            if started or refused is None:
                raise
            await error_response(refused.status, refused.message, refused.code)(scope, receive, send)
