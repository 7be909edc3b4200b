"""Start an ASGI app with uvicorn on a free loopback port in a daemon thread (servers under test)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_in_thread(app, **config) -> tuple[str, uvicorn.Server, threading.Thread]:
    """(base URL, server, thread) once the server accepts requests; stop with server.should_exit = True.
    `config`: more uvicorn.Config options (e.g. http=, the protocol class deft serve uses)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def raw_request(server: str, head: bytes, chunks, timeout: float = 10.0, pause: float = 0.002) -> bytes:
    """Send `head` then `chunks` (`pause` s apart) on a raw loopback socket, stopping early once the server
    answers or closes; the response (b"" if it closed without one)."""
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        for chunk in chunks:
            try:
                sock.recv(1, socket.MSG_PEEK)
                break  # the server answered or closed before the body ended
            except BlockingIOError:
                pass
            try:
                sock.sendall(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
            time.sleep(pause)
        sock.setblocking(True)
        try:
            return sock.recv(65536)
        except ConnectionResetError:
            return b""
