"""Entry point of the `worldplan` console script: imports every command module."""

from __future__ import annotations

import importlib
import signal
import sys

from agent.cli_app import app

# Each module registers its commands on `app` when imported.
COMMAND_MODULES = ("agent.cli_serve", "agent.cli_traces", "agent.cli_web", "agent.cli_math",
                   "agent.cli_controller")


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
