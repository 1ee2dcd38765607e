"""Schema versions of the trace database: detect, migrate older ones, refuse unknown ones.

Versions:
- 0: the pre-release layout: the tables `run`, `episode`, `step`, `searchnode`, `llmcall`
  without the `meta` table (or a `meta` table without a `schema_version` row), and possibly
  without columns that version 1 added (e.g. `llmcall.cache_key`, `step.decision`).
- 1: `traces.schema` as it is (`SCHEMA_VERSION`).

The 0 -> 1 path is additive: create the missing tables, add each missing column with its
default, fill `llmcall.cache_key` from the stored request, create the indexes, and write
`meta.schema_version`. A database of a newer version, or one that is not a worldplan trace
database, is refused with a `SchemaVersionError` that says what was found.

`open_db(url)` is how the read-side commands open a database: a current one is opened as it
is; an older SQLite file is migrated *in a temporary copy* (the user's file is untouched, the
note says so) unless `in_place=True`, which first writes a backup beside the file. Whatever
keeps a database from being opened (none there, empty, not SQLite, corrupt, locked, another
application's, a newer schema) is a typed `TraceDBError` (traces.db_errors) naming the file.

Not handled: downgrades, and migrating non-SQLite databases in a copy (they are migrated in
place only when asked).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

from worldplan.traces.db_errors import NoTraceDatabase, SchemaVersionError, explain, where
from worldplan.traces.engine import BUSY_TIMEOUT_S, make_engine, probe_sqlite
from worldplan.traces.schema import SCHEMA_VERSION, Episode, LLMCall, Meta, Run, SearchNode, Step
from worldplan.traces.store import call_cache_key

MODELS: dict[str, type[SQLModel]] = {
    "run": Run, "episode": Episode, "step": Step, "searchnode": SearchNode, "llmcall": LLMCall,
    "meta": Meta}
V0_TABLES = frozenset({"run", "episode", "llmcall"})  # the least a version-0 database has
REQUIRED_COLUMNS = {  # columns without which no migration can make sense of a table
    "run": {"id"},
    "episode": {"id", "run_id"},
    "step": {"id", "episode_id"},
    "searchnode": {"id", "episode_id"},
    "llmcall": {"id"},
}


@dataclass(frozen=True)
class Opened:
    """A database opened for reading: the engine, and what was done to open it."""

    engine: Engine
    found_version: int | None  # None: a new, empty database
    note: str = ""  # non-empty when it was migrated (in a copy or in place)


def _to_url(url: str) -> str:
    return url if "://" in url else f"sqlite:///{url}"


def _sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite") and url not in ("sqlite://", "sqlite:///:memory:"):
        return Path(url.split("///", 1)[1])
    return None


def detect_version(engine: Engine) -> int | None:
    """The schema version of the database (None if it has no tables at all)."""
    tables = set(inspect(engine).get_table_names())
    if not tables:
        return None
    if "meta" in tables:
        with engine.connect() as c:
            row = c.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).first()
        if row is None:
            return 0
        try:
            return int(row[0])
        except ValueError as e:
            raise SchemaVersionError(
                f"{where(str(engine.url))}: meta.schema_version is {row[0]!r}, not a number; "
                "it is not a worldplan trace database, or it was damaged") from e
    if V0_TABLES <= tables:
        return 0
    raise SchemaVersionError(
        f"{where(str(engine.url))} is not a worldplan trace database (tables: "
        f"{sorted(tables)[:8]}); this worldplan reads trace schema versions 0 to "
        f"{SCHEMA_VERSION}")


def _sql_default(table: str, col: Any) -> str:
    """A literal DEFAULT for ADD COLUMN, from the SQLModel field's Python default."""
    field = MODELS[table].model_fields.get(col.name) if table in MODELS else None
    default: Any = None
    if field is not None:
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
    if default is None or type(default).__name__ == "PydanticUndefinedType":
        return "NULL" if col.nullable else "''"
    if isinstance(default, bool):
        return "1" if default else "0"
    if isinstance(default, int | float):
        return repr(default)
    if isinstance(default, list | dict):
        return "'" + json.dumps(default).replace("'", "''") + "'"
    return "'" + str(default).replace("'", "''") + "'"


def _migrate_0_to_1(engine: Engine) -> list[str]:
    done: list[str] = []
    insp = inspect(engine)
    tables = set(insp.get_table_names())
    for name, required in REQUIRED_COLUMNS.items():
        if name in tables:
            have = {c["name"] for c in insp.get_columns(name)}
            if not required <= have:
                raise SchemaVersionError(
                    f"{where(str(engine.url))}: table {name} lacks {sorted(required - have)}; "
                    "it is not a worldplan version-0 trace table, and cannot be migrated")
    with engine.begin() as c:
        for table in SQLModel.metadata.sorted_tables:
            if table.name not in tables:
                continue
            have = {col["name"] for col in insp.get_columns(table.name)}
            for col in table.columns:
                if col.name in have:
                    continue
                ddl = col.type.compile(dialect=engine.dialect)
                c.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{col.name}" {ddl} '
                               f"DEFAULT {_sql_default(table.name, col)}"))
                done.append(f"added column {table.name}.{col.name}")
    SQLModel.metadata.create_all(engine)  # missing tables and indexes
    done.append("created missing tables and indexes")
    with engine.begin() as c:
        rows = c.execute(text("SELECT id, endpoint, model, prompt, params FROM llmcall "
                              "WHERE cache_key IS NULL OR cache_key = ''")).all()
        for rid, endpoint, model, prompt, params in rows:
            p = json.loads(params) if isinstance(params, str) and params else (params or {})
            key = call_cache_key(endpoint or "", model or "", prompt or "", p)
            c.execute(text("UPDATE llmcall SET cache_key = :k WHERE id = :i"), {"k": key, "i": rid})
        if rows:
            done.append(f"filled cache_key of {len(rows)} LLM calls")
        c.execute(text("DELETE FROM meta WHERE key = 'schema_version'"))
        c.execute(text("INSERT INTO meta (key, value) VALUES ('schema_version', '1')"))
    done.append("schema_version = 1")
    return done


MIGRATIONS: dict[int, Callable[[Engine], list[str]]] = {0: _migrate_0_to_1}


def migrate(engine: Engine) -> list[str]:
    """Bring the database to SCHEMA_VERSION in place. Returns what was done, step by step."""
    found = detect_version(engine)
    if found is None or found == SCHEMA_VERSION:
        return []
    if found > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{where(str(engine.url))} has trace schema version {found}, newer than this "
            f"worldplan (version {SCHEMA_VERSION}); upgrade worldplan to read it")
    done: list[str] = []
    version = found
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise SchemaVersionError(
                f"{where(str(engine.url))} has trace schema version {version}, and this "
                f"worldplan knows no migration from it to version {SCHEMA_VERSION}")
        done += step(engine)
        version = detect_version(engine) or SCHEMA_VERSION
    return done


def _copy_sqlite(src: Path, dst: Path) -> None:
    """Copy a SQLite database consistently (WAL content included)."""
    with sqlite3.connect(f"file:{src}?mode=ro", uri=True) as s, sqlite3.connect(dst) as d:
        s.backup(d)


def open_db(url: str, *, in_place: bool = False) -> Opened:
    """Open a trace database for reading, migrating an older one (in a copy by default).

    Every failure is a typed `TraceDBError` (traces.db_errors) naming the file: none there,
    an empty one, not SQLite, corrupt, locked, another application's, a newer schema.
    """
    url = _to_url(url)
    try:
        return _open(url, in_place)
    except (DBAPIError, sqlite3.Error) as e:
        known = explain(e, url)
        if known is None:
            raise
        raise known from e


def _open(url: str, in_place: bool) -> Opened:
    path = _sqlite_path(url)
    if path is not None:
        if not path.exists():
            raise NoTraceDatabase(f"no trace database at {path}: check the --db path (or "
                                  "$WORLDPLAN_DB)")
        probe_sqlite(path)
    probe = create_engine(url, **({"connect_args": {"timeout": BUSY_TIMEOUT_S}}
                                  if path is not None else {}))
    try:
        found = detect_version(probe)
    finally:
        probe.dispose()
    if found is None:
        raise NoTraceDatabase(f"{where(url)} holds no worldplan traces (it has no tables): "
                              "check the --db path")
    if found == SCHEMA_VERSION:
        return Opened(make_engine(url, create=False), found)
    if found > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{where(url)} has trace schema version {found}, newer than this worldplan "
            f"(version {SCHEMA_VERSION}); upgrade worldplan to read it")
    if in_place or path is None:
        if path is not None:
            backup = path.with_name(path.name + f".v{found}.bak")
            _copy_sqlite(path, backup)
            where_to = f"in place (backup at {backup})"
        else:
            where_to = "in place"
        raw = create_engine(url)
        steps = migrate(raw)
        raw.dispose()
        note = f"migrated trace schema {found} -> {SCHEMA_VERSION} {where_to}: {'; '.join(steps)}"
        return Opened(make_engine(url, create=False), found, note)
    tmp = Path(tempfile.mkdtemp(prefix="worldplan-migrated-")) / path.name
    _copy_sqlite(path, tmp)
    raw = create_engine(f"sqlite:///{tmp}")
    try:
        migrate(raw)
    except BaseException:
        shutil.rmtree(tmp.parent, ignore_errors=True)
        raise
    finally:
        raw.dispose()
    note = (f"{path} has trace schema version {found}; reading a migrated copy ({tmp}); "
            f"`worldplan migrate {path}` upgrades the file itself to version {SCHEMA_VERSION}")
    return Opened(make_engine(f"sqlite:///{tmp}", create=False), found, note)
