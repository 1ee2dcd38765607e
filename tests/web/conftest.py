"""Browser fixtures for the web tests.

`web_host`: one real Chromium (+ the MiniWoB++ page server) shared by the session's tests;
tests that kill or hang a browser make their own. `site` serves a small user site with
traps (off-origin link and redirect, pop-up, download) from a temp dir. `store`: a real
SQLite trace database in tmp_path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from envs.web.host import WebHost
from envs.web.server import PageServer
from traces.store import TraceStore, make_engine

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


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(make_engine(f"sqlite:///{tmp_path / 'traces.db'}"))
