"""Entry point of the `worldplan` console script: imports every command module."""

from __future__ import annotations

import importlib

from agent.cli_app import app

# Each module registers its commands on `app` when imported.
COMMAND_MODULES = ("agent.cli_serve", "agent.cli_traces", "agent.cli_web", "agent.cli_math",
                   "agent.cli_controller")


def main() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name)
    app()


if __name__ == "__main__":
    main()
