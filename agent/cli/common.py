"""What several commands share: the --db option's help and the one-line error on stderr."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

DB_HELP = ("Trace database: a file path or SQLAlchemy URL "
           "(default $WORLDPLAN_DB or runs/worldplan.db).")


def print_error(message: str) -> None:
    """`error: message` in red on stderr (the caller exits with its code)."""
    Console(stderr=True, highlight=False).print(Text(f"error: {message}", style="red"))
