"""Opening a trace database: `make_engine(url)`, the SQLite settings and the schema check.

`make_engine(url)` opens (and creates) a database: SQLite in WAL mode with a busy timeout and
foreign keys on, or any SQLAlchemy URL (PostgreSQL for a shared team store). It refuses, with
a `SchemaVersionError` that says what to do, a database of another schema version; several
processes may create the same new database at once. `default_db_url()` is where the
commands write when told nothing ($WORLDPLAN_DB, else ./runs/worldplan.db).

Not handled: writing traces (traces.store), reading them (traces.query), migrating an older
schema (traces.migrate).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, SQLModel, create_engine

from worldplan.traces.schema import SCHEMA_VERSION, Meta


class SchemaVersionError(RuntimeError):
    """The database was written by another schema version than this code knows."""


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
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.exists():
            raise FileNotFoundError(f"no trace database at {path}")
    kwargs: dict[str, Any] = {}
    if is_sqlite:
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    _check_version(engine, create=create)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _check_version(engine: Engine, *, create: bool) -> None:
    """Check the schema version, creating the tables if asked.

    Several processes may open a new database at once (parallel runs, a test and its
    subprocess): a half-created database is retried, never taken for an old one.
    """
    for attempt in range(60):
        try:
            if _check_version_once(engine, create=create):
                return
        except (OperationalError, IntegrityError):  # another process is creating it
            pass
        time.sleep(0.05 * min(attempt + 1, 10))
    raise SchemaVersionError(f"{engine.url}: the trace tables could not be created (another "
                             "process kept the database half-created for 25 s)")


def _check_version_once(engine: Engine, *, create: bool) -> bool:
    """True when done; False when another process is still creating the database."""
    tables = set(inspect(engine).get_table_names())
    if tables and "meta" not in tables:
        raise SchemaVersionError(
            f"{engine.url} is not a worldplan trace database of a known version "
            f"(tables: {sorted(tables)[:8]}); this worldplan writes schema {SCHEMA_VERSION}. "
            "If an older worldplan wrote it, `worldplan migrate PATH` upgrades it.")
    if "meta" in tables:
        with Session(engine) as s:
            row = s.get(Meta, "schema_version")
        if row is None:
            if tables <= {"meta"}:
                return False
            raise SchemaVersionError(
                f"{engine.url} has trace schema version 0; this worldplan reads and writes "
                f"version {SCHEMA_VERSION}: `worldplan migrate PATH` upgrades it.")
        if int(row.value) != SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{engine.url} has trace schema version {row.value}; this worldplan reads and "
                f"writes version {SCHEMA_VERSION}. Upgrade worldplan, or export the old runs "
                "with the worldplan version that wrote them.")
    if create:
        # the version row first: a process that finds it knows the tables are ours
        Meta.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]
        with Session(engine) as s:
            if s.get(Meta, "schema_version") is None:
                s.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
                s.commit()
        SQLModel.metadata.create_all(engine)
    return True
