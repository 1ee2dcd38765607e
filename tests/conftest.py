"""Fixtures shared by every test package, each defined once.

- `llm_server`: ONE real vLLM server with the default test model for the whole session (or
  the one at $WORLDPLAN_TEST_LLM_URL), stopped at the end; tests that use it are marked
  `server`. `real_run`: a trace database written by a real run (tests.fakes.toy_runner)
  against it.
- `grader`: one math-verify grader worker for the session.
- `store`: a real SQLite trace database in tmp_path; `demo`: a hand-made one
  (tests.fakes.trace_db).
- `web_host`: one real Chromium (+ the MiniWoB++ page server) for the session's browser
  tests; tests that kill or hang a browser make their own. `site` serves a small user site
  with traps (off-origin link and redirect, pop-up, download) from a temp dir;
  `chromium_args` launch Debian's Chromium directly.
Importing tests.fuzzing loads the Hypothesis profile (ci, or $HYPOTHESIS_PROFILE) once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import tests.fuzzing  # noqa: F401  (loads the Hypothesis profile)
from tests.fakes import toy_runner
from tests.fakes.trace_db import Demo, build_demo
from worldplan.envs.math.grader import Grader
from worldplan.envs.web.host import WebHost
from worldplan.envs.web.page_server import PageServer
from worldplan.traces.engine import make_engine
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("WORLDPLAN_DATA", REPO.parent / "shared" / "data"))
# the rerun registry of the toy runner's runs (kind "toy"), and its settings in `real_run`
TOY_RERUNNERS = {"toy": "tests.fakes.toy_runner:rerun"}
TOY_CONFIG = {"n": 3, "budget": 6, "max_tokens": 6, "problems": toy_runner.PROBLEMS}
SITE_HTML = """<!doctype html>
<html><head><title>Profile</title></head><body>
<h1>Profile</h1>
<label>Name <input id="name" type="text"></label>
<button id="save" onclick="document.getElementById('status').textContent =
  'saved:' + document.getElementById('name').value">Save</button>
<div id="status">unsaved</div>
<a href="http://example.com/">Example</a>
<a id="other" href="/other.html">Other page</a>
<button onclick="location.href = location.href.replace('127.0.0.1', 'localhost')">
  Redirect</button>
<button onclick="window.open('/other.html')">Popup</button>
<a href="/file.bin" download>Download</a>
<button onclick="alert('hello')">Alert</button>
</body></html>
"""


@dataclass(frozen=True)
class LLMServer:
    url: str
    model: str
    n_params: int | None
    max_model_len: int


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LLMServer]:
    from worldplan.worldmodel.llm.connect import served_params
    from worldplan.worldmodel.llm.models import DEFAULT_TEST_MODEL, resolve_model
    from worldplan.worldmodel.llm.serving import free_port, start_server, stop_server

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


@pytest.fixture(scope="session")
def real_run(llm_server: LLMServer, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Path, int]:
    """A trace database written by a real run (the toy runner) against the model server."""
    path = tmp_path_factory.mktemp("real") / "real.db"
    engine = make_engine(str(path))
    client = LLMClient(llm_server.url, llm_server.model, n_params=llm_server.n_params)
    run_id = toy_runner.run_toy(TraceStore(engine), client, TOY_CONFIG)
    engine.dispose()
    return path, run_id


@pytest.fixture(scope="session")
def grader() -> Iterator[Grader]:
    with Grader(timeout_s=30) as g:
        yield g


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(make_engine(f"sqlite:///{tmp_path / 'traces.db'}"))


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
def web_host() -> Iterator[WebHost]:
    host = WebHost()
    try:
        yield host
    finally:
        host.close()


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text(SITE_HTML)
    (root / "other.html").write_text("<!doctype html><title>Other</title><p>Other page</p>")
    (root / "file.bin").write_bytes(b"\0" * 1024)
    return root


@pytest.fixture(scope="session")
def site(site_dir: Path) -> Iterator[PageServer]:
    with PageServer(site_dir) as server:
        yield server
