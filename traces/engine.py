"""Opening a trace database: `make_engine(url)`, the SQLite settings and the schema check.

`make_engine(url)` opens (and creates) a database: SQLite in WAL mode with a busy timeout and
foreign keys on, or any SQLAlchemy URL (PostgreSQL for a shared team store). It refuses, with
a `SchemaVersionError` that says what to do, a database of another schema version or another
application's; several processes may create the same new database at once. An existing
SQLite file is first read without any setting applied (`probe_sqlite`), so a file that is
not SQLite, is corrupt, or belongs to another application fails with its typed error
(traces.db_errors) and is left byte for byte as it was. A database opened to be written is
checked to be writable there and then (`check_writable`: a lock that another connection holds
past the busy timeout fails on opening, not mid-run). `default_db_url()` is where the
commands write when told nothing ($WORLDPLAN_DB, else ./runs/worldplan.db).

Not handled: writing traces (traces.store), reading them (traces.query), migrating an older
schema (traces.migrate), errors met later, mid-query (traces.db_errors.explain).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlmodel import Session, SQLModel, create_engine

from worldplan.traces.db_errors import (
    DatabaseLocked,
    DatabaseUnavailable,
    NoTraceDatabase,
    SchemaVersionError,
    explain,
    where,
)
from worldplan.traces.schema import SCHEMA_VERSION, Meta

__all__ = ["BUSY_TIMEOUT_S", "SchemaVersionError", "check_writable", "default_db_url",
           "make_engine", "probe_sqlite"]

BUSY_TIMEOUT_S = 30.0  # how long a connection waits for another one's lock (seconds)
TRACE_TABLES = frozenset({"run", "episode", "llmcall"})  # the least any trace version has
CREATING_S = 5.0  # how long a reader waits for the tables of a database being created (s)


def default_db_url() -> str:
    """The default trace database: $WORLDPLAN_DB, else ./runs/worldplan.db."""
    return os.environ.get("WORLDPLAN_DB", "sqlite:///runs/worldplan.db")


def make_engine(url: str | None = None, *, create: bool = True) -> Engine:
    """Open the database at `url` (a SQLAlchemy URL or a file path), creating tables."""
    url = url or default_db_url()
    if "://" not in url:
        url = f"sqlite:///{url}"
    is_sqlite = url.startswith("sqlite")
    if is_sqlite and url not in ("sqlite://", "sqlite:///:memory:"):
        path = Path(url.split("///", 1)[1])
        if create:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise DatabaseUnavailable(f"cannot create the folder of {path} "
                                          f"({e.strerror or e}): pass another --db") from e
        elif not path.exists():
            raise NoTraceDatabase(f"no trace database at {path}: check the --db path (or "
                                  "$WORLDPLAN_DB); `worldplan math`, `web` and `calibrate` "
                                  "create one")
        if path.exists() and not probe_sqlite(path) and not create:
            raise NoTraceDatabase(f"{path} holds no worldplan traces (it has no tables): "
                                  "check the --db path")
    kwargs: dict[str, Any] = {}
    if is_sqlite:
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_S}
    engine = create_engine(url, **kwargs)
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        _check_version(engine, create=create)
        if create:
            check_writable(engine)
    except DBAPIError as e:
        engine.dispose()
        known = explain(e, url)
        if known is None:
            raise
        raise known from e
    except BaseException:
        engine.dispose()
        raise
    return engine


def probe_sqlite(path: Path) -> set[str]:
    """The tables of the SQLite file at `path`, read without changing anything in it.

    Raises the typed error of a file that is a directory, not SQLite, corrupt, locked or
    another application's database (tables, but none of a trace database's).
    """
    if path.is_dir():
        raise DatabaseUnavailable(f"{path} is a directory, not a trace database file: pass "
                                  "the database file's path")
    try:
        con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
        try:
            tables = {r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            meta = {r[1] for r in con.execute("PRAGMA table_info(meta)")}
        finally:
            con.close()
    except sqlite3.Error as e:
        known = explain(e, f"sqlite:///{path}")
        if known is None:
            raise
        raise known from e
    ours = {"key", "value"} <= meta if "meta" in tables else TRACE_TABLES <= tables
    if tables and not ours:
        raise SchemaVersionError(_foreign(str(path), tables))
    return tables


def check_writable(engine: Engine) -> None:
    """Take SQLite's write lock and give it back at once: a database that another connection
    keeps locked (for longer than the busy timeout) fails here, as `DatabaseLocked`, before
    a command starts writing. Other databases: nothing to check."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        raw.execute("BEGIN IMMEDIATE")  # type: ignore[attr-defined]
        raw.execute("ROLLBACK")  # type: ignore[attr-defined]
    except sqlite3.Error as e:
        known = explain(e, str(engine.url))
        if known is None:
            raise
        raise known from e
    finally:
        raw.close()


def _foreign(db: str, tables: set[str]) -> str:
    return (f"{db} is not a worldplan trace database (its tables: {sorted(tables)[:8]}): "
            "check the --db path; worldplan writes its traces to runs/worldplan.db unless "
            "told otherwise")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    cur.close()


def _check_version(engine: Engine, *, create: bool) -> None:
    """Check the schema version, creating the tables if asked.

    Several processes may open a new database at once (parallel runs, a test and its
    subprocess): a half-created database is retried for up to the busy timeout, never taken
    for an old one. Other failures (corrupt, unreadable) are raised at once.
    """
    deadline = time.monotonic() + max(BUSY_TIMEOUT_S, 1.0)
    attempt = 0
    last: Exception | None = None
    while True:
        try:
            if _check_version_once(engine, create=create):
                return
            last = None
        # another process is creating it? (PostgreSQL: "relation ... already exists" is a
        # ProgrammingError when two processes create the same table at once)
        except (OperationalError, IntegrityError, ProgrammingError) as e:
            if not _creating(e, str(engine.url)):
                raise
            last = e
        if time.monotonic() >= deadline:
            break
        attempt += 1
        time.sleep(0.05 * min(attempt, 10))
    known = explain(last, str(engine.url)) if last is not None else None
    if isinstance(known, DatabaseLocked):
        raise known from last
    raise SchemaVersionError(f"{where(str(engine.url))}: the trace tables could not be created "
                             f"(another process kept the database half-created for "
                             f"{max(BUSY_TIMEOUT_S, 1.0):.0f} s)")


def _tables_soon(engine: Engine, seconds: float) -> set[str]:
    """The tables, once the trace tables are there or `seconds` have passed: a creator
    writes the version row first, then the tables (milliseconds later)."""
    deadline = time.monotonic() + seconds
    while True:
        tables = set(inspect(engine).get_table_names())
        if TRACE_TABLES <= tables or time.monotonic() >= deadline:
            return tables
        time.sleep(0.05)


def _creating(error: Exception, url: str) -> bool:
    """Whether an error is what a database half-created by another process raises."""
    if isinstance(error, IntegrityError):
        return True
    text = str(error)
    return (isinstance(explain(error, url), DatabaseLocked) or "already exists" in text
            or "no such table" in text)


def _check_version_once(engine: Engine, *, create: bool) -> bool:
    """True when done; False when another process is still creating the database."""
    db = where(str(engine.url))
    insp = inspect(engine)
    tables = set(insp.get_table_names())
    if not tables and not create:
        raise NoTraceDatabase(f"{db} holds no worldplan traces (it has no tables): check the "
                              "--db path")
    if tables and "meta" not in tables:
        if not TRACE_TABLES <= tables:
            raise SchemaVersionError(_foreign(db, tables))
        raise SchemaVersionError(
            f"{db} has trace schema version 0; this worldplan writes version "
            f"{SCHEMA_VERSION}: `worldplan migrate {db}` upgrades it (a backup is kept)")
    if "meta" in tables:
        if not {"key", "value"} <= {c["name"] for c in insp.get_columns("meta")}:
            raise SchemaVersionError(_foreign(db, tables))
        with Session(engine) as s:
            row = s.get(Meta, "schema_version")
        if row is None and not tables <= {"meta"}:
            raise SchemaVersionError(
                f"{db} has trace schema version 0; this worldplan reads and writes "
                f"version {SCHEMA_VERSION}: `worldplan migrate {db}` upgrades it.")
        if row is None:  # half-created, by a live process or a killed one: a writer
            if not create:  # finishes creating it (a concurrent one's insert is retried)
                return False
        elif str(row.value) != str(SCHEMA_VERSION):
            raise SchemaVersionError(
                f"{db} has trace schema version {row.value}; this worldplan reads and "
                f"writes version {SCHEMA_VERSION}. Upgrade worldplan, or export the old runs "
                "with the worldplan version that wrote them.")
        if not create and not TRACE_TABLES <= _tables_soon(engine, CREATING_S):
            raise SchemaVersionError(f"{db} lacks the trace tables "
                                     f"{sorted(TRACE_TABLES - tables)}: it was damaged, or is "
                                     "not a worldplan trace database")
    if create:
        # the version row first: a process that finds it knows the tables are ours
        Meta.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]
        with Session(engine) as s:
            if s.get(Meta, "schema_version") is None:
                s.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
                s.commit()
        SQLModel.metadata.create_all(engine)
    return True
