"""Entry point of the `worldplan` console script: runs the app that agent.cli.app builds."""

from __future__ import annotations

import signal
import sys

from worldplan.agent.cli.app import app


def _terminate(signum: int, _frame: object) -> None:
    # SIGTERM becomes SystemExit, so open runs and episodes are closed as `interrupted`
    sys.exit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    app()


if __name__ == "__main__":
    main()
