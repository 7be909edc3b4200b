"""Observe whether anything opens a path: a FIFO whose writer side unblocks only when a reader opens it.

No strace needed: `os.open(fifo, O_WRONLY)` blocks until some process opens the FIFO for reading, so a
writer thread that returns before we release it proves the path was opened (by any process).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def watch_open(fifo: Path) -> Iterator[dict]:
    """Make `fifo`; the yielded dict's "opened" is True after the block if anything opened it meanwhile."""
    os.mkfifo(fifo)
    state = {"opened": False}

    def writer() -> None:
        fd = os.open(fifo, os.O_WRONLY)  # returns once a reader has the FIFO open; it then reads EOF
        os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        thread.join(0.5)
        state["opened"] = not thread.is_alive()
        if thread.is_alive():  # release the writer ourselves
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            thread.join(5)
            os.close(fd)
