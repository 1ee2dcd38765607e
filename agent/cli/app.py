"""The Typer application that every `worldplan` command registers on.

Command modules (`agent/cli_*.py`) import `app` from here and decorate thin functions that
parse options and delegate to core functions; `agent.cli.main` imports them all.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="worldplan",
    help="Compute-optimal test-time search with an LLM as world model (MATH and web tasks).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
