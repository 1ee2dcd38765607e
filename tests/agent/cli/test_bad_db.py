"""Every command that opens a trace database, on real databases made bad on purpose.

Each case runs one command through Typer's CliRunner on a file made bad in one way:
truncated mid-page (seeded cut points of a real trace database), random bytes, a text file,
another application's SQLite database (two shapes), a database of a newer schema, one locked
by another connection's exclusive transaction (rollback journal: nobody may read; WAL: nobody
may write), a directory, an empty file and a missing one. Every failure must be exactly one
line, `error: ...` naming the file, exit code 1, no traceback, and the file must be left
byte for byte as it was. Commands that only read a WAL database another connection is
writing must work as on an unlocked copy. No command here reaches a model server or a
browser: the database is checked first.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.fakes.trace_db import build_demo
from worldplan.agent.cli.app import app

runner = CliRunner()
DEAD = "http://127.0.0.1:9"  # nothing listens there: never reached, the database fails first
PAGE = 4096  # bytes (SQLite's default page size)
COMMANDS: dict[str, Callable[[str, Path], list[str]]] = {
    "runs": lambda db, out: ["runs", "--db", db],
    "replay": lambda db, out: ["replay", "1", "--db", db],
    "report": lambda db, out: ["report", "1", "2", "-o", str(out / "r.html"), "--db", db],
    "compare": lambda db, out: ["compare", "1", "2", "--db", db],
    "rerun": lambda db, out: ["rerun", "1", "--from-cache", "--db", db],
    "migrate": lambda db, out: ["migrate", db],
    "math": lambda db, out: ["math", "--limit", "1", "--llm-url", DEAD, "--db", db],
    "web": lambda db, out: ["web", "--task", "click-test", "--seeds", "1", "--db", db],
    "calibrate": lambda db, out: ["calibrate", "--limit", "1", "--llm-url", DEAD, "--db", db],
    "fit-policy": lambda db, out: ["fit-policy", "1", "-o", str(out / "p.json"), "--db", db],
}
READERS = ["runs", "replay", "report", "compare", "migrate", "fit-policy"]
TRUNCATIONS = 6  # seeded cut points, each in the middle of a page


@pytest.fixture(scope="module")
def real_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real trace database (two runs written through the TraceStore), in one file."""
    path = tmp_path_factory.mktemp("real") / "real.db"
    build_demo(path).engine.dispose()
    with closing(sqlite3.connect(path)) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def _truncated(seed: int) -> Callable[[Path, Path], Path]:
    def make(real: Path, path: Path) -> Path:
        data = real.read_bytes()
        page = random.Random(seed).randrange(0, len(data) // PAGE - 1)
        path.write_bytes(data[: page * PAGE + PAGE // 2 + seed])  # mid-page, a page short
        return path
    return make


def _bytes(content: bytes) -> Callable[[Path, Path], Path]:
    def make(real: Path, path: Path) -> Path:
        path.write_bytes(content)
        return path
    return make


def _sqlite(sql: str) -> Callable[[Path, Path], Path]:
    def make(real: Path, path: Path) -> Path:
        with closing(sqlite3.connect(path)) as c:
            c.executescript(sql)
        return path
    return make


def _newer(real: Path, path: Path) -> Path:
    shutil.copy(real, path)
    with closing(sqlite3.connect(path)) as c:
        c.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        c.commit()
    return path


def _directory(real: Path, path: Path) -> Path:
    path.mkdir()
    return path


BAD: dict[str, tuple[Callable[[Path, Path], Path], str]] = {  # kind -> (maker, message)
    **{f"truncated-{s}": (_truncated(s), "is corrupt or truncated") for s in range(TRUNCATIONS)},
    **{f"random-bytes-{s}": (_bytes(random.Random(s).randbytes(8192)),
                             "is not an SQLite database") for s in range(2)},
    "text-file": (_bytes(b"run,episode\n1,2\n"), "is not an SQLite database"),
    "foreign-sqlite": (_sqlite("CREATE TABLE moz_places (id INTEGER, url TEXT);"
                               "INSERT INTO moz_places VALUES (1, 'https://example.com');"),
                       "is not a worldplan trace database"),
    "foreign-meta": (_sqlite("CREATE TABLE meta (name TEXT, content BLOB);"
                             "CREATE TABLE users (id INTEGER);"),
                     "is not a worldplan trace database"),
    "newer-schema": (_newer, "has trace schema version 99"),
    "directory": (_directory, "is a directory"),
}


def one_error_line(res: Result, path: Path | str, message: str) -> None:
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 1, res.output
    assert len(lines) == 1, res.output
    assert lines[0].startswith("error: ") and message in lines[0] and str(path) in lines[0]
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit)


def _fingerprint(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("kind", list(BAD))
def test_bad_database(kind: str, command: str, real_db: Path, tmp_path: Path) -> None:
    make, message = BAD[kind]
    path = make(real_db, tmp_path / "bad.db")
    before = _fingerprint(path)
    res = runner.invoke(app, COMMANDS[command](str(path), tmp_path))
    one_error_line(res, path, message)
    assert _fingerprint(path) == before  # nothing was written to it
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "p.json").exists()


@pytest.mark.parametrize("command", READERS + ["rerun"])
def test_missing_and_empty_databases(command: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    one_error_line(runner.invoke(app, COMMANDS[command](str(missing), tmp_path)), missing,
                   "no trace database at")
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    one_error_line(runner.invoke(app, COMMANDS[command](str(empty), tmp_path)), empty,
                   "holds no worldplan traces")
    assert empty.read_bytes() == b""


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wait 0.2 s for a lock instead of 30 s."""
    monkeypatch.setattr("worldplan.traces.engine.BUSY_TIMEOUT_S", 0.2)


@pytest.fixture
def locked(real_db: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A copy of the real database in the journal mode asked, held by another connection's
    exclusive transaction for the whole test."""
    path = tmp_path / "locked.db"
    shutil.copy(real_db, path)
    with closing(sqlite3.connect(path)) as c:
        c.execute(f"PRAGMA journal_mode={request.param}")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield path
    finally:
        holder.rollback()
        holder.close()


@pytest.mark.usefixtures("short_busy_timeout")
@pytest.mark.parametrize("locked", ["delete"], indirect=True)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_locked_database_nobody_may_read(command: str, locked: Path, tmp_path: Path) -> None:
    one_error_line(runner.invoke(app, COMMANDS[command](str(locked), tmp_path)), locked,
                   "is locked by another process")


@pytest.mark.usefixtures("short_busy_timeout")
@pytest.mark.parametrize("locked", ["wal"], indirect=True)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_locked_wal_database(command: str, locked: Path, real_db: Path,
                             tmp_path: Path) -> None:
    res = runner.invoke(app, COMMANDS[command](str(locked), tmp_path))
    if command in ("math", "web", "calibrate", "rerun"):  # they write: refused at once
        one_error_line(res, locked, "is locked by another process")
        return
    free = tmp_path / "free.db"  # readers read a WAL database that is being written
    shutil.copy(real_db, free)
    expected = runner.invoke(app, COMMANDS[command](str(free), tmp_path))
    assert "is locked" not in res.output and res.exit_code == expected.exit_code, res.output
    assert res.output.replace(str(locked), "X") == expected.output.replace(str(free), "X")


@pytest.mark.parametrize("command", list(COMMANDS))
def test_database_server_down(command: str, tmp_path: Path) -> None:
    """A PostgreSQL store that does not answer: one line, its URL without the password."""
    url = "postgresql+psycopg://me:secret@127.0.0.1:9/traces"
    res = runner.invoke(app, COMMANDS[command](url, tmp_path))
    one_error_line(res, "postgresql+psycopg://me:***@127.0.0.1:9/traces",
                   "cannot use the database at")
    assert "secret" not in res.output
