"""`worldplan math` end to end on a scripted model behind real HTTP: the CLI, the traces,
and resuming a run whose process was killed (SIGKILL) mid-way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlmodel import Session, select
from typer.testing import CliRunner

from tests.agent.strategies.scripted import boxed_score, generic_solve
from tests.fakes.math_llm import ScriptedLLM
from worldplan.agent.cli.app import app
from worldplan.traces import aggregates
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import Episode, LLMCall, Run, SearchNode, Step

REPO = Path(__file__).resolve().parents[3]
OPTS = ["--dataset", "math500", "--max-tokens", "24", "--step-max-tokens", "10"]


def episodes(db: Path) -> list[Episode]:
    with Session(make_engine(str(db))) as s:
        return list(s.exec(select(Episode).order_by(Episode.id)))  # type: ignore[arg-type]


def test_cli_runs_and_traces_everything(tmp_path: Path) -> None:
    fake = ScriptedLLM(generic_solve, boxed_score({"2": 0.7, "3": 0.4}))
    db = tmp_path / "t.db"
    with fake.serve() as url:
        res = CliRunner().invoke(app, ["math", *OPTS, "--limit", "2", "--strategy", "beam",
                                       "--budget", "6", "--llm-url", url, "--db", str(db),
                                       "-p", "n_beams=2", "-p", "width=1"])
    assert res.exit_code == 0, res.output
    assert "accuracy" in res.output and "Level" in res.output and "FLOPs" in res.output
    eps = episodes(db)
    assert [e.status for e in eps] == ["completed", "completed"]
    with Session(make_engine(str(db))) as s:
        run = s.exec(select(Run)).one()
        assert run.status == "completed" and run.config["params"] == {"n_beams": 2, "width": 1}
        assert len(s.exec(select(Step)).all()) == 2
        assert s.exec(select(SearchNode)).first() is not None
        n_calls = len(s.exec(select(LLMCall)).all())
    assert n_calls == len(fake.served) == sum(e.llm_calls for e in eps)
    assert all(e.generations <= 6 for e in eps)


def test_a_dataset_without_levels_loads_and_runs(tmp_path: Path) -> None:
    """A user's own problems-and-answers file needs no field map: no level is its own group."""
    path, db = tmp_path / "mine.jsonl", tmp_path / "t.db"
    path.write_text("".join(json.dumps({"problem": f"What is {k} + {k}?", "answer": str(2 * k)})
                            + "\n" for k in (1, 2)))
    with ScriptedLLM(generic_solve, boxed_score({"2": 0.7, "3": 0.4})).serve() as url:
        res = CliRunner().invoke(app, ["math", "--dataset", str(path), "--strategy",
                                       "best_of_n", "--budget", "2", "--max-tokens", "24",
                                       "--llm-url", url, "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "no level" in res.output and "Level" not in res.output
    eps = episodes(db)
    assert [(e.status, e.info["level"]) for e in eps] == [("completed", None)] * 2
    engine = make_engine(str(db))
    assert [g.key for g in aggregates.table_by(engine, eps[0].run_id, "level")] == ["no level"]
    assert aggregates.table_by(engine, eps[0].run_id, "difficulty") == []


def test_cli_reports_bad_input_clearly(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["math", "--strategy", "nope", "--db", str(tmp_path / "x")])
    assert res.exit_code != 0 and "unknown strategy" in res.output
    res = CliRunner().invoke(app, ["math", "--dataset", str(tmp_path / "missing.jsonl"),
                                   "--llm-url", "http://127.0.0.1:9", "--db",
                                   str(tmp_path / "x.db")])
    assert res.exit_code == 1 and "error" in res.output


def test_resume_after_kill_skips_finished_problems(tmp_path: Path) -> None:
    fake = ScriptedLLM(generic_solve, boxed_score({"2": 0.7, "3": 0.4}))
    db = tmp_path / "r.db"
    args = ["math", *OPTS, "--limit", "4", "--strategy", "best_of_n", "--budget", "4",
            "--concurrency", "1", "--db", str(db)]  # one at a time: a kill lands mid-way
    env: dict[str, Any] = {**os.environ, "PYTHONPATH": str(REPO)}
    with fake.serve(delay_s=0.4) as url:
        proc = subprocess.Popen([sys.executable, "-m", "worldplan.agent.cli.main", *args,
                                 "--llm-url", url], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 120
            while time.time() < deadline:
                if db.exists() and any(e.status == "completed" for e in episodes(db)):
                    break
                time.sleep(0.2)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        before = episodes(db)
        done_before = {e.task_id for e in before if e.status == "completed"}
        assert 1 <= len(done_before) < 4
        run_id = before[0].run_id
        res = CliRunner().invoke(app, ["math", "--resume", str(run_id), "--db", str(db),
                                       "--llm-url", url])
    assert res.exit_code == 0, res.output
    after = episodes(db)
    completed = [e for e in after if e.status == "completed"]
    assert len(completed) == 4 and len({e.task_id for e in completed}) == 4
    # finished problems were not solved again; the killed one is marked, not lost
    assert {e.id for e in before if e.status == "completed"} <= {e.id for e in completed}
    assert all(e.status in ("completed", "interrupted") for e in after)
    assert "all" in res.output and "4" in res.output
