"""`worldplan math`, `calibrate` and `web` on bad datasets, bad servers and bad policy files.

Every failure is one line, `error: ...` naming the file or URL, exit code 1, no traceback.
Failures that can be known before a run starts (a dataset that cannot be read, a server that
is down, slow or not a model server, a bad policy file) come before the progress bar is drawn
and before any run row is written; a server that fails mid-run (garbage, 5xx, a timeout) ends
the run with the same one line after the bar. Datasets: missing, a directory, text, gzip,
a JSON array, empty, rows without answers, unreadable (permission denied), an offset past the
end. Servers are real HTTP servers on 127.0.0.1 (tests.fakes.openai_server) or a closed port.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from tests.agent.strategies.scripted import boxed_score, generic_solve
from tests.fakes.math_llm import ScriptedLLM
from tests.fakes.openai_server import Answer, Failure, OpenAIServer
from worldplan.agent.cli.app import app
from worldplan.worldmodel.llm import connect as connect_module

runner = CliRunner()
ROW = {"problem": "What is 1+1?", "answer": "2"}
OPTS = ["--max-tokens", "24", "--step-max-tokens", "10"]


def _write(name: str, content: bytes | str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path
    return make


def _directory(tmp: Path) -> Path:
    (tmp / "problems.jsonl").mkdir()
    return tmp / "problems.jsonl"


DATASETS: dict[str, tuple[Callable[[Path], Path], str]] = {  # kind -> (maker, message)
    "missing": (lambda tmp: tmp / "missing.jsonl", "no dataset file at"),
    "directory": (_directory, "is a directory"),
    "text": (_write("notes.jsonl", "some notes\nnot JSON lines\n"), "holds no problems"),
    "gzip": (_write("p.jsonl", gzip.compress(json.dumps(ROW).encode())), "not UTF-8"),
    "json-array": (_write("p.json", json.dumps([ROW], indent=2)), "holds no problems"),
    "empty": (_write("p.jsonl", ""), "holds no problems: no rows"),
    "no-answers": (_write("p.jsonl", "\n".join(json.dumps({"problem": f"q{k}"})
                                               for k in range(3))), "empty or missing answer"),
}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A live scripted model server (it must never be asked to solve anything here)."""
    with ScriptedLLM(generic_solve, boxed_score({"2": 0.7})).serve() as url:
        yield url


def one_error_line(res: Result, *names: str, message: str, last: bool = False) -> None:
    """Exit code 1, no traceback, and one line `error: ...` naming `names`; the only line
    unless `last` (then the last one, after a progress bar)."""
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert res.exit_code == 1, res.output
    assert len(errors) == 1 and (lines[-1] == errors[0] if last else lines == errors), res.output
    assert message in errors[0] and all(n in errors[0] for n in names), errors[0]
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit)


def runs_in(db: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as c:
        return c.execute("SELECT kind, status FROM run").fetchall()


def not_started(res: Result, db: Path) -> None:
    assert "solving" not in res.output and "[1/" not in res.output  # no progress drawn
    assert not db.exists() or runs_in(db) == []  # no run row written


@pytest.mark.parametrize("command", ["math", "calibrate"])
@pytest.mark.parametrize("kind", list(DATASETS))
def test_bad_dataset(kind: str, command: str, server: str, tmp_path: Path) -> None:
    make, message = DATASETS[kind]
    path, db = make(tmp_path), tmp_path / "t.db"
    res = runner.invoke(app, [command, "--dataset", str(path), "--llm-url", server,
                              "--db", str(db), *OPTS])
    one_error_line(res, str(path), message=message)
    not_started(res, db)


@pytest.mark.parametrize("command", ["math", "calibrate"])
def test_offset_past_the_end(command: str, server: str, tmp_path: Path) -> None:
    path, db = _write("p.jsonl", json.dumps(ROW) + "\n" + json.dumps(ROW))(tmp_path), \
        tmp_path / "t.db"
    res = runner.invoke(app, [command, "--dataset", str(path), "--offset", "5", "--llm-url",
                              server, "--db", str(db), *OPTS])
    one_error_line(res, message="has 2 problems: offset 5 is past its end")
    not_started(res, db)


@contextmanager
def unprivileged() -> Iterator[None]:
    """Run as `nobody` (effective uid) when root, so that file permissions apply."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)


@pytest.mark.parametrize("command", ["math", "calibrate"])
def test_unreadable_dataset(command: str, server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = Path(tempfile.mkdtemp(prefix="worldplan-perm-"))  # outside the 0700 tmp_path
    monkeypatch.setenv("WORLDPLAN_CACHE", str(shared / "cache"))  # not root's own cache
    try:
        shared.chmod(0o777)
        path, db = shared / "secret.jsonl", shared / "t.db"
        path.write_text(json.dumps(ROW) + "\n")
        path.chmod(0o000)
        runner.invoke(app, [command, "--dataset", str(shared / "x.jsonl"), "--llm-url",
                            server, "--db", str(db), *OPTS])  # imports done as root
        with unprivileged():
            res = runner.invoke(app, [command, "--dataset", str(path), "--llm-url", server,
                                      "--db", str(db), *OPTS])
        one_error_line(res, str(path), message="Permission denied")
        not_started(res, db)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class NotAModelServer(OpenAIServer):
    """Answers every request with `body` and `status` (an HTML page, a 404)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(lambda _body: Failure("500"))
        self.status, self.body = status, body

    def handle(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(self.status, text=self.body)


FAILING: dict[str, tuple[Callable[[], Any], str]] = {  # kind -> (server or None, message)
    "down": (lambda: None, "cannot reach the model server"),
    "slow": (lambda: ScriptedLLM(generic_solve).serve(delay_s=0.6),
             "did not answer within 0.2 s"),
    "html": (lambda: NotAModelServer(200, "<html>hello</html>").serve(),
             "answered something that is not a model list"),
    "404": (lambda: NotAModelServer(404, "Not Found").serve(), "answered 404"),  # a web server
}


@pytest.fixture(scope="module")
def failing_servers() -> Iterator[dict[str, str]]:
    """The URL of each kind of server that fails before any run starts, for the module."""
    with ExitStack() as stack:
        urls = {}
        for kind, (serve, _) in FAILING.items():
            cm = serve()
            urls[kind] = stack.enter_context(cm) if cm is not None else closed_port_url()
        yield urls


WEB_LLM = ["web", "--task", "click-test", "--strategy", "reactive", "--seeds", "1"]


@pytest.mark.parametrize("command", ["math", "calibrate", "web"])
@pytest.mark.parametrize("kind", list(FAILING))
def test_server_that_cannot_serve(kind: str, command: str, failing_servers: dict[str, str],
                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("worldplan.agent.runs.preflight.PREFLIGHT_TIMEOUT_S", 0.2)
    url, db = failing_servers[kind], tmp_path / "t.db"
    args = [*WEB_LLM] if command == "web" else [command, "--limit", "1", *OPTS]
    res = runner.invoke(app, [*args, "--llm-url", url, "--db", str(db)])
    one_error_line(res, url, message=FAILING[kind][1])
    not_started(res, db)


@pytest.fixture
def impatient_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The math command's client waits 0.3 s for an answer and does not retry."""
    def connect(*args: Any, **kwargs: Any) -> Any:
        client = connect_module.connect(*args, **kwargs)
        client.timeout_s, client.retries = 0.3, 0
        return client
    monkeypatch.setattr("worldplan.agent.runs.math_command.connect", connect)


def _slowly(_body: dict[str, Any]) -> Answer:
    time.sleep(0.6)
    return Failure("500")


MID_RUN: dict[str, tuple[Callable[[dict[str, Any]], Answer], str]] = {
    "garbage": (lambda _body: Failure("garbage"), "a body that is not JSON"),
    "no-usage": (lambda _body: Failure("nousage"), "a response the client cannot read"),
    "5xx": (lambda _body: Failure("503"), "answered 503"),
    "timeout": (_slowly, "timed out after 0.3 s"),
}


@pytest.fixture(scope="module")
def mid_run_servers() -> Iterator[dict[str, str]]:
    """Servers that list their model, then fail every completion, each in its own way."""
    with ExitStack() as stack:
        yield {kind: stack.enter_context(OpenAIServer(respond).serve())
               for kind, (respond, _) in MID_RUN.items()}


@pytest.mark.usefixtures("impatient_client")
@pytest.mark.parametrize("kind", list(MID_RUN))
def test_server_failing_mid_run(kind: str, mid_run_servers: dict[str, str],
                                tmp_path: Path) -> None:
    url, db = mid_run_servers[kind], tmp_path / "t.db"
    res = runner.invoke(app, ["math", "--limit", "1", "--llm-url", url, "--db", str(db), *OPTS])
    one_error_line(res, url, message=MID_RUN[kind][1], last=True)
    assert runs_in(db) == [("math", "failed")]


POLICIES: dict[str, tuple[str | bytes | None, str]] = {  # kind -> (content, message)
    "missing": (None, "no policy file at"),
    "not-json": ("{entries: []", "not a readable JSON file"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00", "not a readable JSON file"),
    "too-deep": ("[" * 100_000 + "]" * 100_000, "not a readable JSON file"),
    "array": ("[1, 2]", "expected a JSON object"),
    "other-format": (json.dumps({"format": "other", "version": 1}), "not a worldplan policy"),
    "newer-version": (json.dumps({"format": "worldplan-policy", "version": 2}),
                      "policy version 2"),
    "no-entries": (json.dumps({"format": "worldplan-policy", "version": 1, "entries": []}),
                   "has no entries"),
    "bad-bin": (json.dumps({"format": "worldplan-policy", "version": 1, "entries": [
        {"bin": 9, "budget": 4, "strategy": "best_of_n"}]}), "bin must be null or 1..5"),
}


@pytest.mark.parametrize("command", ["math", "web"])
@pytest.mark.parametrize("kind", list(POLICIES))
def test_bad_policy_file(kind: str, command: str, server: str, tmp_path: Path) -> None:
    content, message = POLICIES[kind]
    path, db = tmp_path / "policy.json", tmp_path / "t.db"
    if content is not None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    args = ([*WEB_LLM] if command == "web" else ["math", "--limit", "1", *OPTS])
    res = runner.invoke(app, [*args, "--strategy", "compute-optimal", "--policy", str(path),
                              "--llm-url", server, "--db", str(db)])
    one_error_line(res, str(path), message=message)
    not_started(res, db)
