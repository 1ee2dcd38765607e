"""Why a trace database cannot be used: typed errors, and the driver's errors translated.

Every error here is a `TraceDBError` whose message is one line: what is wrong, with which
file (or URL, its password hidden), and what to do. The kinds:
- `NoTraceDatabase` (also a FileNotFoundError): no file at the path, or an empty one that
  a reading command was asked to read;
- `SchemaVersionError`: a database of another schema version, or not a worldplan trace
  database at all (another application's SQLite file);
- `CorruptDatabase`: not an SQLite file (random bytes, text), or a damaged or truncated one;
- `DatabaseLocked`: another connection held a lock for longer than the busy timeout;
- `DatabaseUnavailable`: the file cannot be opened or written (a directory, permissions,
  a read-only file, a full disk, an I/O error), or a database server cannot be reached.

`explain(error, url)` turns a driver error (SQLAlchemy's `OperationalError` and
`DatabaseError`, or `sqlite3.Error`) into one of these, read from SQLite's error name
(`sqlite_errorname`) or, for other databases, from its first line; it returns None for
errors that signal a bug rather than a bad database (integrity and programming errors).
Not handled: repairing a database (the messages say how: a backup, `sqlite3 .recover`).
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc
from sqlalchemy.engine import make_url


class TraceDBError(RuntimeError):
    """A trace database that cannot be used; the message is one line saying why and what to
    do."""


class NoTraceDatabase(TraceDBError, FileNotFoundError):
    """No trace database at the path (or an empty file where one was to be read)."""


class SchemaVersionError(TraceDBError):
    """The database was written by another schema version than this code knows, or is not a
    worldplan trace database."""


class CorruptDatabase(TraceDBError):
    """The file is not an SQLite database, or is damaged or truncated."""


class DatabaseLocked(TraceDBError):
    """Another connection kept the database locked for longer than the busy timeout."""


class DatabaseUnavailable(TraceDBError):
    """The database cannot be opened, read or written (file system, permissions, server)."""


def where(url: str) -> str:
    """How a message names a database: the file path for SQLite, else the URL without its
    password."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        return path or "the in-memory SQLite database"
    if "://" not in url:
        return url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return url


def _driver_error(error: BaseException) -> BaseException:
    return error.orig if isinstance(error, exc.DBAPIError) and error.orig is not None else error


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


def explain(error: BaseException, url: str) -> TraceDBError | None:
    """The typed error for a driver error on the database at `url` (None: not a database
    problem but a bug, which should keep its traceback)."""
    if isinstance(error, TraceDBError):
        return error
    if isinstance(error, exc.IntegrityError | exc.ProgrammingError | sqlite3.IntegrityError
                  | sqlite3.ProgrammingError):
        return None
    if not isinstance(error, exc.DBAPIError | sqlite3.Error):
        return None
    orig = _driver_error(error)
    name = str(getattr(orig, "sqlite_errorname", "") or "")
    detail = _first_line(orig)
    db = where(url)
    if isinstance(orig, sqlite3.Error) or url.startswith("sqlite"):
        return _sqlite(name, detail, db)
    if isinstance(error, exc.OperationalError):
        return DatabaseUnavailable(f"cannot use the database at {db} ({detail}): check that its "
                                   "server is running and that the URL and credentials are "
                                   "right")
    return DatabaseUnavailable(f"database error on {db} ({detail})")


def _sqlite(name: str, detail: str, db: str) -> TraceDBError:
    if name == "SQLITE_NOTADB" or "not a database" in detail:
        return CorruptDatabase(f"{db} is not an SQLite database (or its header is damaged): "
                               "check the --db path; worldplan writes its traces to "
                               "runs/worldplan.db unless told otherwise")
    if name.startswith("SQLITE_CORRUPT") or "malformed" in detail:
        return CorruptDatabase(f"{db} is corrupt or truncated ({detail}): restore it from a "
                               f"backup, or salvage what is readable with `sqlite3 {db} "
                               ".recover | sqlite3 recovered.db`")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in detail:
        return DatabaseLocked(f"{db} is locked by another process ({detail}): let the other "
                              "command finish (or stop it), then run this one again")
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in detail:
        return DatabaseUnavailable(f"cannot open {db} ({detail}): it must be a file you may "
                                   "read and write, in a folder that exists")
    if name.startswith("SQLITE_READONLY") or "readonly" in detail:
        return DatabaseUnavailable(f"{db} is read-only ({detail}): give write permission, or "
                                   "pass another --db")
    if name.startswith("SQLITE_FULL") or "disk is full" in detail:
        return DatabaseUnavailable(f"the disk holding {db} is full: free some space")
    if name.startswith("SQLITE_IOERR") or "I/O" in detail:
        return DatabaseUnavailable(f"disk I/O error on {db} ({detail}): check the disk, and "
                                   "whether the file was cut short while being copied")
    if "no such table" in detail or "no such column" in detail:
        return SchemaVersionError(f"{db} lacks the trace tables ({detail}): it is not a "
                                  "worldplan trace database, or it was damaged")
    return DatabaseUnavailable(f"database error on {db} ({detail})")
