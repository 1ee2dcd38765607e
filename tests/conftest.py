"""Session fixtures shared by every test package.

`llm_server` starts ONE real vLLM server with the default test model for the whole session
(or reuses the one at $WORLDPLAN_TEST_LLM_URL) and stops it at the end. Tests that use it
are marked `server`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("WORLDPLAN_DATA", REPO.parent / "shared" / "data"))


@dataclass(frozen=True)
class LLMServer:
    url: str
    model: str
    n_params: int | None
    max_model_len: int


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LLMServer]:
    from worldmodel.connect import served_params
    from worldmodel.models import DEFAULT_TEST_MODEL, resolve_model
    from worldmodel.server import free_port, start_server, stop_server

    url = os.environ.get("WORLDPLAN_TEST_LLM_URL")
    if url:
        import httpx

        data = httpx.get(f"{url}/v1/models", timeout=10).json()["data"][0]
        yield LLMServer(url, data["id"], served_params(url), int(data.get("max_model_len", 2048)))
        return
    model = resolve_model(os.environ.get("WORLDPLAN_TEST_MODEL", DEFAULT_TEST_MODEL))
    info = start_server(model, port=free_port(), max_model_len=2048, reuse=False)
    try:
        yield LLMServer(info.url, info.model, info.n_params, info.max_model_len)
    finally:
        stop_server(info.port)


@pytest.fixture(scope="session")
def llm_url(llm_server: LLMServer) -> str:
    return llm_server.url


@pytest.fixture(scope="session")
def math500_path() -> Path:
    path = DATA_DIR / "math" / "test500.jsonl"
    if not path.exists():
        pytest.fail(f"MATH-500 not found at {path}; set WORLDPLAN_DATA to the shared data dir")
    return path
