"""`worldplan web-controller fit` and `collect` through Typer's CliRunner (no model, no
browser: synthetic records, and options that fail before anything starts)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.fakes.web_rows import synthetic
from worldplan.agent.cli.app import app
from worldplan.agent.web.counterfactual_rows import CounterfactualFile
from worldplan.agent.web.router import load_web_policy

runner = CliRunner()


def test_fit_writes_a_web_policy_and_prints_the_cross_validation(tmp_path: Path) -> None:
    rows = CounterfactualFile(tmp_path / "cf.jsonl")
    for r in synthetic(tasks=4, per_task=5).arms.values():
        rows.append(r)
    with rows.path.open("a") as f:
        f.write('{"kind": "arm", "task"')  # a killed writer's last line
    out = tmp_path / "web_fitted.json"
    res = runner.invoke(app, ["web-controller", "fit", str(rows.path), "-o", str(out),
                              "--allowances", "1,100,600", "--unit", "completion"])
    assert res.exit_code == 0, res.output
    assert "leave-task-out CV: 20 states of 4 tasks, 4 folds" in res.output
    assert "cut short" in res.output  # the truncated line is reported
    policy = load_web_policy(out)
    assert policy.budgets == [1, 100, 600] and policy.predictor is not None
    assert policy.metadata["cv"]["per_allowance"]["600"]["n"] == 20
    assert policy.metadata["rows"] == str(rows.path)


def test_fit_and_collect_fail_in_one_line(tmp_path: Path) -> None:
    res = runner.invoke(app, ["web-controller", "fit", str(tmp_path / "none.jsonl")])
    assert res.exit_code == 1 and "no counterfactual file" in res.output
    rows = CounterfactualFile(tmp_path / "one.jsonl")
    for r in synthetic(tasks=1, per_task=5).arms.values():
        rows.append(r)
    res = runner.invoke(app, ["web-controller", "fit", str(rows.path),
                              "-o", str(tmp_path / "p.json")])
    assert res.exit_code == 1 and "needs 2 tasks" in res.output
    res = runner.invoke(app, ["web-controller", "collect", "--out", str(tmp_path / "c.jsonl"),
                              "--arms", "act;jump", "--no-trace"])
    assert res.exit_code == 1 and "route must be one of" in res.output
    res = runner.invoke(app, ["web-controller", "collect", "--out", str(tmp_path / "c.jsonl"),
                              "--task", "no-such-task", "--no-trace"])
    assert res.exit_code == 1 and "unknown task" in res.output
