"""Entry point of the `worldplan` console script: imports every command module."""

from __future__ import annotations

import importlib
import signal
import sys

from worldplan.agent.cli.app import app

# Each module registers its commands on `app` when imported.
COMMAND_MODULES = ("worldplan.agent.cli.serve", "worldplan.agent.cli.traces",
                   "worldplan.agent.cli.web", "worldplan.agent.cli.math",
                   "worldplan.agent.cli.control")


def _terminate(signum: int, _frame: object) -> None:
    # SIGTERM becomes SystemExit, so open runs and episodes are closed as `interrupted`
    sys.exit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    for name in COMMAND_MODULES:
        importlib.import_module(name)
    app()


if __name__ == "__main__":
    main()
