"""Build an `LLMClient` from what a command was told: URLs, or the locally served model.

Order: explicit `--llm-url` values (several spread the load); else the server that
`worldplan serve` recorded on the default port. The parameter count (for FLOPs estimates)
comes from the recorded server, or from the model folder that a server reports as its root.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.generation import Observer
from worldplan.worldmodel.llm.models import count_parameters
from worldplan.worldmodel.llm.serving import find_server, recorded_servers

DEFAULT_PORT = 8321


class NoServer(RuntimeError):
    """No URL was given and no local server is running."""


def resolve_urls(urls: Sequence[str] | None, port: int = DEFAULT_PORT) -> list[str]:
    if urls:
        return [u.rstrip("/") for u in urls]
    info = find_server(port)
    if info is None:
        alive = [s for s in recorded_servers() if find_server(s.port) is not None]
        if len(alive) == 1:
            return [alive[0].url]
        raise NoServer(f"no model server given and none running on port {port}: start one "
                       "with `worldplan serve`, or pass --llm-url http://HOST:PORT")
    return [info.url]


def served_params(url: str) -> int | None:
    """Parameter count of the model a server serves, when it runs from a local folder."""
    for info in recorded_servers():
        if info.url.rstrip("/") == url.rstrip("/") and info.n_params:
            return info.n_params
    root = _served_entry(url).get("root")
    if root and Path(root).is_dir():
        return count_parameters(Path(root))
    return None


def served_name(url: str) -> str | None:
    """The name of the model a server serves (None when it does not answer /v1/models)."""
    name = _served_entry(url).get("id")
    return str(name) if name else None


def _served_entry(url: str) -> dict[str, Any]:
    """The first model /v1/models lists ({} when the server does not answer it)."""
    try:
        entry = httpx.get(f"{url}/v1/models", timeout=5).json()["data"][0]
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError):
        return {}
    return entry if isinstance(entry, dict) else {}


def connect(urls: Sequence[str] | None = None, *, model: str | None = None,
            n_params: int | None = None, observers: Sequence[Observer] = (),
            max_concurrency: int = 64, timeout_s: float = 600.0) -> LLMClient:
    resolved = resolve_urls(urls)
    return LLMClient(resolved, model, n_params=n_params or served_params(resolved[0]),
                     observers=observers, max_concurrency=max_concurrency,
                     timeout_s=timeout_s)
