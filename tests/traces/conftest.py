"""Fixtures of the trace tests: a hand-made demo database, and a real run's database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LLMServer
from tests.traces import toy_runner
from tests.traces.builders import Demo, build_demo
from traces.store import TraceStore, make_engine
from worldmodel.client import LLMClient

REGISTRY = {"toy": "tests.traces.toy_runner:rerun"}
CONFIG = {"n": 3, "budget": 6, "max_tokens": 6, "problems": toy_runner.PROBLEMS}


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    d = build_demo(tmp_path / "demo.db")
    yield d
    d.engine.dispose()


@pytest.fixture(scope="session")
def chromium_args() -> dict[str, object]:
    return {"executable_path": "/usr/bin/chromium", "headless": True,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run"]}


@pytest.fixture(scope="session")
def real_run(llm_server: LLMServer, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Path, int]:
    """A trace database written by a real run (the toy runner) against the model server."""
    path = tmp_path_factory.mktemp("real") / "real.db"
    engine = make_engine(str(path))
    client = LLMClient(llm_server.url, llm_server.model, n_params=llm_server.n_params)
    run_id = toy_runner.run_toy(TraceStore(engine), client, CONFIG)
    engine.dispose()
    return path, run_id
