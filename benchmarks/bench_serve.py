"""Load on `deft serve`: concurrent OpenAI clients asking about clips; requests/s, p50/p95 latency,
errors, and the server's memory over the run, for each engine in the same run.

    python benchmarks/bench_serve.py [--engines transformers,vllm] [--clients 32] [--requests 1000]
                                     [--max-tokens 8] [--vllm-python PATH] [--hostile N]

Each engine gets a fresh `deft serve` process on loopback (embedded default checkpoint). Clients
send chat completions with one of four synthetic mp4 clips as a base64 `video_url` part, through
the official `openai` client, `--clients` at a time until `--requests` are done. Any non-200 answer
counts as an error. The server's memory (its whole process tree: with vLLM that includes the vLLM
server's API and engine processes) is sampled every 0.5 s as two sums over the tree, from
/proc/PID/smaps_rollup: RSS, which counts a page shared by several processes (torch's libraries, the
page cache of a mapped file) once in each, and PSS, which splits each shared page among its sharers, so
the PSS sum is what the tree really occupies. The 4 GB target is judged on the PSS sum; the RSS sum is
shown beside it (here they differ by ~0.1-0.4 GB, as the big items, weights and KV cache, are private).
"flat" compares the median PSS sum over the last tenth of the run with the median over the second
tenth (after warm-up). At the end each process's RSS and PSS (peak over the run) are listed.
With --hostile N every Nth request is oversize instead (a 40 MB chat message, a 100 kB prompt, a 100 kB
completion prompt, in turn), sent with httpx; it must get a 400/413 (anything else is an error).
Targets: 0 errors; peak PSS sum <= 4 GB; memory flat over 1,000 requests, oversize ones among them. GB = 10^9 bytes
(earlier runs of this bench printed RSS sums in GiB, 2^30 bytes).

Measured while sizing the vLLM server (deft.serve.vllm_process; 2 cores, Gemma 3 270M in bfloat16,
after 16-32 requests, GiB; nearly all private anonymous memory, so PSS ~ USS ~ RSS less 0.1-0.15 per
process): the default layout (API server, engine core, worker, each importing torch; a tokenizer in the
API server and the engine core; a 1 GiB KV cache) took 5.5 RSS. --skip-tokenizer-init dropped both
tokenizers (0.34 each, plus what the API server builds around one: it went from 1.43 to 0.41); the
worker inside the engine core saved one torch import (0.6); the KV cache sized by kv_cache_bytes went
from 1 GiB to 0.18. Left, 2.8 RSS in all: the engine core ~1.9 (torch + vLLM imports ~0.5, weights
0.54 plus a oneDNN-packed copy of the tied 262k x 640 LM head 0.34 that vLLM-CPU keeps beside it, the
KV cache, runtime buffers) and the API server ~0.4; startup ~20 s instead of ~55 s.
--max-num-batched-tokens 512 saved nothing. Threads (default_threads), on 2 busy cores (load 4-5): one
OpenMP thread decoded 7-10 tok/s, two threads 1.6-2.4 tok/s.
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deft.data.synthetic import SyntheticSpec, render  # noqa: E402
from deft.video import write_video  # noqa: E402

TARGET_PEAK_GB = 4.0
FLAT_TOLERANCE = 0.05  # last-tenth median PSS sum within 5 % (or 50 MB) of the second tenth's
CLIPS = [("astronaut", (("AU6", 2.0), ("AU12", 2.5))), ("hopper", (("AU1", 1.8), ("AU2", 1.8), ("AU25", 1.5))),
         ("astronaut", (("AU4", 2.0), ("AU9", 1.8))), ("hopper", (("AU14", 2.5),))]


def clip_parts(folder: Path) -> list[dict]:
    parts = []
    for i, (face, aus) in enumerate(CLIPS):
        path = folder / f"clip{i}.mp4"
        write_video(render(SyntheticSpec(face=face, aus=aus, seed=40 + i)).frames, path)
        data = base64.b64encode(path.read_bytes()).decode()
        parts.append({"type": "video_url", "video_url": {"url": f"data:video/mp4;base64,{data}"}})
    return parts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(engine: str, port: int, log: Path, vllm_python: str | None, startup_s: float) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "deft.cli", "serve", "--engine", engine, "--port", str(port)]
    if engine == "vllm" and vllm_python:
        cmd += ["--vllm-python", vllm_python]
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + startup_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"deft serve --engine {engine} exited with {proc.returncode}; see {log}")
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
            if health.get("engine") == engine:
                return proc
            raise SystemExit(f"asked for engine {engine}, the server runs {health.get('engine')}; see {log}")
        except httpx.HTTPError:
            time.sleep(1)
    proc.kill()
    raise SystemExit(f"deft serve --engine {engine} not healthy after {startup_s:.0f} s; see {log}")


def smaps_gb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of one process in GB, from /proc/PID/smaps_rollup."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if parts[0] in ("Rss:", "Pss:"):
                values[parts[0]] = int(parts[1]) * 1024 / 1e9
    return values["Rss:"], values["Pss:"]


def process_label(p: psutil.Process) -> str:
    cmd = " ".join(p.cmdline())
    if "deft.cli" in cmd:
        return "deft serve"
    if "api_server" in cmd:
        return "vLLM API server"
    return p.name()


def tree_memory(proc: psutil.Process) -> dict[str, tuple[float, float]]:
    """{"label pid": (RSS GB, PSS GB)} for `proc` and all its descendants."""
    out = {}
    for p in [proc, *proc.children(recursive=True)]:
        try:
            out[f"{process_label(p)} {p.pid}"] = smaps_gb(p.pid)
        except (psutil.Error, OSError, KeyError):
            pass
    return out


def run_engine(engine: str, parts: list[dict], args, tmp: Path) -> dict:
    import openai

    port = free_port()
    started = time.perf_counter()
    proc = start_server(engine, port, tmp / f"serve_{engine}.log", args.vllm_python, args.startup_timeout)
    startup = time.perf_counter() - started
    server = psutil.Process(proc.pid)
    samples: list[tuple[int, float, float]] = []  # (requests done, RSS sum GB, PSS sum GB)
    peaks: dict[str, tuple[float, float]] = {}  # per process: peak RSS, peak PSS
    done = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            tree = tree_memory(server)
            samples.append((done[0], sum(r for r, _ in tree.values()), sum(p for _, p in tree.values())))
            for name, (rss, pss) in tree.items():
                old = peaks.get(name, (0.0, 0.0))
                peaks[name] = (max(old[0], rss), max(old[1], pss))
            stop.wait(0.5)

    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0, timeout=600)
    latencies: list[float] = []
    errors: list[str] = []

    refused: list[int] = []
    oversize = [{"messages": [{"role": "user", "content": "AU12 " * (8 * 2**20)}]},  # a 40 MB message
                {"messages": [{"role": "user", "content": "Which AUs moved? " * 6000}]},  # a 100 kB prompt
                {"prompt": "x" * 100_000, "max_tokens": 4}]

    def hostile(i: int) -> None:
        """An oversize request between the normal ones: it must be refused (400/413) without costing memory."""
        route = "/v1/completions" if "prompt" in oversize[i % 3] else "/v1/chat/completions"
        try:
            r = httpx.post(f"http://127.0.0.1:{port}{route}", json=oversize[i % 3], timeout=600)
            refused.append(r.status_code) if r.status_code in (400, 413) else errors.append(f"oversize: {r.status_code}")
        except httpx.HTTPError as err:
            errors.append(f"oversize: {type(err).__name__}")

    def one(i: int) -> None:
        if args.hostile and i % args.hostile == args.hostile - 1:
            hostile(i // args.hostile)
            done[0] += 1
            return
        start = time.perf_counter()
        try:
            reply = client.chat.completions.create(model="deft", max_tokens=args.max_tokens, messages=[
                {"role": "user", "content": [{"type": "text", "text": "Which Action Units moved, and where?"},
                                             parts[i % len(parts)]]}])
            if reply.model_extra.get("engine") != engine:
                errors.append(f"answered by {reply.model_extra.get('engine')}")
            latencies.append(time.perf_counter() - start)
        except Exception as err:  # noqa: BLE001 - every failure is counted and shown
            errors.append(f"{type(err).__name__}: {str(err)[:120]}")
        done[0] += 1

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(one, range(args.requests)))
        wall = time.perf_counter() - t0
    finally:
        stop.set()
        sampler.join()
        os.killpg(proc.pid, 15)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
    lat = sorted(latencies)
    n = args.requests

    def window_median(lo: float, hi: float) -> float:
        values = [pss for k, _, pss in samples if lo * n <= k <= hi * n]
        return statistics.median(values) if values else float("nan")

    early, late = window_median(0.1, 0.2), window_median(0.9, 1.0)
    return {
        "engine": engine, "startup_s": startup, "wall_s": wall, "rps": len(lat) / wall, "errors": errors,
        "refused": refused,
        "p50": lat[len(lat) // 2] if lat else float("nan"), "p95": lat[int(len(lat) * 0.95) - 1] if lat else float("nan"),
        "peak_rss_gb": max(r for _, r, _ in samples), "peak_gb": max(p for _, _, p in samples),
        "early_gb": early, "late_gb": late, "processes": peaks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="transformers,vllm")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--vllm-python", default=os.environ.get("DEFT_VLLM_PYTHON"))
    parser.add_argument("--startup-timeout", type=float, default=900)
    parser.add_argument("--hostile", type=int, default=0,
                        help="every Nth request is oversize (a 40 MB message, a 100 kB prompt): refused, memory flat")
    args = parser.parse_args()
    engines = [e for e in args.engines.split(",") if e]
    if "vllm" in engines and not args.vllm_python:
        print("vllm: skipped (no --vllm-python / DEFT_VLLM_PYTHON; make one with serve/install_vllm.sh)")
        engines.remove("vllm")
    print(f"{args.clients} clients, {args.requests} chat requests per engine, max_tokens {args.max_tokens}, "
          f"{psutil.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        parts = clip_parts(Path(tmp))
        results = [run_engine(e, parts, args, Path(tmp)) for e in engines]
    for r in results:
        flat = abs(r["late_gb"] - r["early_gb"]) <= max(FLAT_TOLERANCE * r["early_gb"], 0.05)
        print(f"{r['engine']:>12}: start {r['startup_s']:.0f} s | {r['rps']:.2f} req/s | p50 {r['p50']:.2f} s "
              f"p95 {r['p95']:.2f} s | errors {len(r['errors'])} | peak PSS sum {r['peak_gb']:.2f} GB "
              f"({'PASS' if r['peak_gb'] <= TARGET_PEAK_GB else 'FAIL'} <= {TARGET_PEAK_GB}; RSS sum "
              f"{r['peak_rss_gb']:.2f} GB) | PSS 2nd tenth {r['early_gb']:.2f} GB, last tenth {r['late_gb']:.2f} GB "
              f"({'flat' if flat else 'GROWS'})" + (f" | oversize refused {len(r['refused'])}" if args.hostile else ""))
        for name, (rss, pss) in sorted(r["processes"].items(), key=lambda kv: -kv[1][1]):
            print(f"    {name}: peak RSS {rss:.2f} GB, PSS {pss:.2f} GB")
        for e in sorted(set(r["errors"]))[:5]:
            print(f"    error: {e}")
    if len(results) == 2:
        a, b = results
        print(f"{b['engine']} vs {a['engine']}: {b['rps'] / a['rps']:.2f}x requests/s, p50 {b['p50'] / a['p50']:.2f}x")


if __name__ == "__main__":
    main()
