"""What several commands share: the --db option's help, the one-line error on stderr, and
`exit_on_failure`, the one place where expected failures become that line and exit code 1.

Expected failures are the types a command names (a dataset that cannot load, a server that is
down, slow or answers garbage, a bad policy file, ...), every `TraceDBError`, and the
database driver's errors that `traces.db_errors.explain` recognises (corrupt, truncated,
locked or foreign databases met mid-command). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.exc import DBAPIError

from worldplan.traces.db_errors import TraceDBError, explain
from worldplan.traces.engine import default_db_url

DB_HELP = ("Trace database: a file path or SQLAlchemy URL "
           "(default $WORLDPLAN_DB or runs/worldplan.db).")


def print_error(message: str) -> None:
    """`error: message` in red on stderr, on one line (the caller exits with its code)."""
    line = re.sub(r"\s*\n\s*", " ", message.strip())
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        Text(f"error: {line}", style="red"))


def message_of(error: BaseException) -> str:
    """What an expected failure says (a KeyError's message without its quotes)."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error) or repr(error)


@contextmanager
def exit_on_failure(expected: tuple[type[BaseException], ...] = (), *,
                    db: str | None = None) -> Iterator[None]:
    """Run the block; an expected failure becomes one red line and exit code 1.

    `db` is the trace database the block uses (default $WORLDPLAN_DB), named by the message
    of a driver error met on it.
    """
    caught: tuple[type[BaseException], ...] = (TraceDBError, *expected)
    try:
        yield
    except typer.Exit:
        raise
    except caught as e:
        print_error(message_of(e))
        raise typer.Exit(1) from e
    except (DBAPIError, sqlite3.Error) as e:
        known = explain(e, _url(db or default_db_url()))
        if known is None:
            raise
        print_error(str(known))
        raise typer.Exit(1) from e


def _url(db: str) -> str:
    return db if "://" in db else f"sqlite:///{db}"
