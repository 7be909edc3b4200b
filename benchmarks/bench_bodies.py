"""Memory of request bodies held at once by `deft serve`: N large requests sent together, with the body
budget (ServeSettings.max_bodies_bytes) as shipped and with it lifted, on the same server code.

    python benchmarks/bench_bodies.py [--requests 12] [--mib 31]

Each request is a chat completion whose video_url holds MIB MiB of random bytes in base64 (~1.33x that on
the wire, under the one-body limit); the server reads it, decodes it and refuses it at the video decoder
(422), one request at a time behind the concurrency gate, so the others wait with their bodies in memory.
Printed per setting: status codes, and the server's RSS (GB = 10^9 bytes) idle before, peak during
(sampled every 0.1 s), and idle after.
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_serve import free_port, smaps_gb  # noqa: E402

def start(port: int, budget: int | None) -> subprocess.Popen:
    """`deft serve` (transformers) through serve() itself; `budget` None: the shipped max_bodies_bytes."""
    limits = f", max_bodies_bytes={budget}" if budget is not None else ""
    code = f"from deft.serve.server import serve; serve(engine='transformers', port={port}{limits})"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("deft serve did not start")


def run(budget: int | None, body: bytes, n: int) -> dict:
    port = free_port()
    proc = start(port, budget)
    peak, stop = [0.0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], smaps_gb(proc.pid)[0])
            stop.wait(0.1)

    def one(_: int) -> int:
        return httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", content=body, timeout=600,
                          headers={"content-type": "application/json"}).status_code

    try:
        time.sleep(2)
        before = smaps_gb(proc.pid)[0]
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(n) as pool:
            codes = Counter(pool.map(one, range(n)))
        wall = time.perf_counter() - started
        stop.set()
        sampler.join()
        time.sleep(2)
        after = smaps_gb(proc.pid)[0]
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)
    return {"codes": dict(sorted(codes.items())), "before": before, "peak": peak[0], "after": after, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=12)
    parser.add_argument("--mib", type=float, default=31.0)
    args = parser.parse_args()
    video = base64.b64encode(os.urandom(int(args.mib * 2**20))).decode()
    body = ('{"messages": [{"role": "user", "content": [{"type": "text", "text": "Which AUs?"}, '
            '{"type": "video_url", "video_url": {"url": "data:video/mp4;base64,' + video + '"}}]}]}').encode()
    print(f"{args.requests} requests at once, {len(body) / 1e6:.1f} MB each, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}")
    for name, budget in (("budget as shipped", None), ("budget lifted", 2**40)):
        r = run(budget, body, args.requests)
        print(f"{name:>18}: {r['codes']} in {r['wall']:.1f} s | RSS before {r['before']:.2f} GB, "
              f"peak {r['peak']:.2f} GB (+{r['peak'] - r['before']:.2f}), after {r['after']:.2f} GB")


if __name__ == "__main__":
    main()
