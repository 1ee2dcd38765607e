"""`worldplan web --strategy ...` and `worldplan math --strategy graph` wiring (CliRunner)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from worldplan.agent.cli.app import app
from worldplan.agent.math.solvers import SOLVERS

runner = CliRunner()


def test_unknown_strategy_is_one_clear_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["web", "--task", "click-test", "--strategy", "mcts",
                              "--llm-url", "http://127.0.0.1:9", "--db",
                              f"sqlite:///{tmp_path / 't.db'}"])
    assert res.exit_code == 1 and "unknown strategy" in res.output


def test_web_help_lists_the_agent_options() -> None:
    res = runner.invoke(app, ["web", "--help"])
    for opt in ("--strategy", "--budget", "--llm-url", "--world-model-url", "--verifier-url"):
        assert opt in res.output
    assert "graph" in SOLVERS  # worldplan math --strategy graph -p mode=...
