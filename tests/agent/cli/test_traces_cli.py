"""The trace commands through Typer's CliRunner, on hand-made and killed-run databases."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.fakes.trace_db import Demo, make_killed_db
from worldplan.agent.cli.app import app
from worldplan.traces import query
from worldplan.traces.migrate import open_db

runner = CliRunner()


def test_runs_replay_report_compare(demo: Demo, tmp_path: Path) -> None:
    db = str(demo.path)
    r = runner.invoke(app, ["runs", "--db", db, "--csv", str(tmp_path / "runs.csv")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "runs.csv").read_text().splitlines()[1].startswith("1,best-of-n-4,")
    assert "best-of-n-4" in r.output and "beam-8" in r.output
    assert "0.5" in r.output and "0.333" in r.output
    ep = demo.episodes[demo.runs[0]][1]
    r = runner.invoke(app, ["replay", "1", "--episode", str(ep), "--db", db])
    assert r.exit_code == 0 and "Problem 1: what is 6*7?" in r.output
    r = runner.invoke(app, ["replay", "1", "--episode", "999", "--db", db])
    assert r.exit_code == 1 and "episode 999 is not in run 1" in r.output
    out = tmp_path / "r.html"
    r = runner.invoke(app, ["report", "1", "2", "-o", str(out), "--db", db])
    assert r.exit_code == 0 and out.exists() and "5 plots" in r.output
    r = runner.invoke(app, ["compare", "1", "2", "--db", db, "--csv", str(tmp_path / "c.csv"),
                            "--parquet", str(tmp_path / "c.parquet")])
    assert r.exit_code == 0, r.output
    assert "3 pairs differ" in r.output and (tmp_path / "c.parquet").stat().st_size > 0


def test_clear_errors(demo: Demo, tmp_path: Path) -> None:
    r = runner.invoke(app, ["runs", "--db", str(tmp_path / "nothing.db")])
    assert r.exit_code == 1 and "no trace database" in r.output
    r = runner.invoke(app, ["report", "7", "--db", str(demo.path), "-o", str(tmp_path / "x")])
    assert r.exit_code == 1 and "no run [7]" in r.output
    r = runner.invoke(app, ["rerun", "1", "--from-cache", "--db", str(demo.path)])
    assert r.exit_code == 1 and "no rerun function for runs of kind 'demo'" in r.output


def test_killed_run_replays_and_reports(tmp_path: Path) -> None:
    path = make_killed_db(tmp_path / "killed.db")
    engine = open_db(str(path)).engine
    [run] = query.runs(engine)
    assert run.status == "interrupted" and run.episodes == 2 and run.llm_calls == 2
    cut = query.episodes(engine, run.id)[1]
    assert cut.status == "running" and cut.prompt_tokens == 9  # tokens from its calls
    r = runner.invoke(app, ["runs", "--db", str(path)])
    assert r.exit_code == 0 and "interrupted" in r.output
    r = runner.invoke(app, ["replay", str(run.id), "--episode", str(cut.id), "--db", str(path)])
    assert r.exit_code == 0, r.output
    assert "unfinished" in r.output and "half-done thought" in r.output and "deeper" in r.output
    out = tmp_path / "killed.html"
    r = runner.invoke(app, ["report", str(run.id), "-o", str(out), "--db", str(path)])
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert "interrupted" in html and "half-done thought" in html
    assert "<script>window.__xss" not in html
