"""Several processes on one SQLite trace database at once (tests.faults.db_clients).

- Two writers start at the same moment on a new database (both create it), each writing
  its own run of many episodes (8 at a time, each with LLM calls, a step and search nodes)
  while a third process reads what `worldplan runs` and `replay` read: nothing is lost
  (every episode, step, node and call of both runs is there, with exact totals), and no
  process fails, with "database is locked" or anything else.
- A `worldplan math` run killed with SIGKILL is resumed while another process reads and a
  third writes its own run: the resumed run equals an uninterrupted one (the fault
  harness's checks), and the reader and the writer meet no error.
Rounds: WORLDPLAN_FAULT_KILLS // 10 (2 by default)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlmodel import Session, select

from tests.faults.harness import (
    CLI,
    KILLS,
    REPO,
    check_final,
    snapshot,
    switched,
    wait_idle,
)
from tests.faults.models import math_respond, write_problems
from tests.faults.test_kill_math import math_args
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import Episode, LLMCall, Run, SearchNode, Step

ROUNDS = max(2, KILLS // 10)
EPISODES, CALLS = 60, 4  # per writer, per episode
CLIENT = ["-m", "tests.faults.db_clients"]


def start(args: Sequence[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([CLI[0], *CLIENT, *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def finish(proc: subprocess.Popen[str]) -> dict[str, object]:
    out, err = proc.communicate(timeout=600)
    assert "database is locked" not in out + err, err[-2000:]
    assert proc.returncode == 0, out[-2000:] + err[-2000:]
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    assert not result.get("errors"), result
    return result


def check_writer_run(url: str, label: str) -> None:
    """A writer's run is all there: every episode, step, node and call, exact totals."""
    with Session(make_engine(url, create=False)) as s:
        run = s.exec(select(Run).where(Run.name == label)).one()
        eps = s.exec(select(Episode).where(Episode.run_id == run.id)).all()
        ids = [e.id for e in eps]
        steps = s.exec(select(Step).where(Step.episode_id.in_(ids))).all()  # type: ignore[union-attr]
        nodes = s.exec(select(SearchNode).where(SearchNode.episode_id.in_(ids))).all()  # type: ignore[union-attr]
        calls = s.exec(select(LLMCall).where(LLMCall.run_id == run.id)).all()
    assert run.status == "completed"
    assert sorted(e.task_id for e in eps) == sorted(f"{label}-{k}" for k in range(EPISODES))
    assert all(e.status == "completed" and e.llm_calls == CALLS and e.generations == 2 * CALLS
               for e in eps)
    assert len(steps) == EPISODES and len(nodes) == 2 * EPISODES
    assert len(calls) == EPISODES * CALLS and all(c.error == "" for c in calls)


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_writers_and_a_reader_on_a_new_database(tmp_path: Path, round_: int) -> None:
    two_writers_and_a_reader(f"sqlite:///{tmp_path / 'shared.db'}", tmp_path)


def two_writers_and_a_reader(url: str, tmp_path: Path) -> None:
    """Two writer processes start on `url` at the same moment while a third reads: every
    run is complete and the reader read."""
    go = tmp_path / "go"
    procs = [start(["write", url, label, str(EPISODES), str(CALLS), str(go)])
             for label in ("writer-a", "writer-b")]
    reader = start(["read", url, "8"])
    go.touch()
    for p in procs:
        finish(p)
    assert int(finish(reader)["reads"]) > 0  # type: ignore[call-overload]
    for label in ("writer-a", "writer-b"):
        check_writer_run(url, label)


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_killed_run_resumes_while_others_read_and_write(tmp_path: Path,
                                                          round_: int) -> None:
    data = write_problems(tmp_path / "problems.jsonl", 6)
    with switched(math_respond) as (switch, server, url):
        ref_db = tmp_path / "ref.db"
        switch.begin()
        subprocess.run(math_args(data, "best_of_n", ref_db, url), cwd=REPO, check=True,
                       capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        ref = snapshot(ref_db, "math")
        db = tmp_path / "shared.db"
        switch.begin(kill_at=1 + (9 + 7 * round_) % sum(ref.calls.values()))
        killed = subprocess.Popen(math_args(data, "best_of_n", db, url), cwd=REPO,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env={**os.environ, "PYTHONPATH": str(REPO)})
        switch.attach(killed)  # type: ignore[arg-type]
        assert killed.wait(timeout=300) == -9
        wait_idle(server)
        before = snapshot(db, "math")
        db_url = f"sqlite:///{db}"
        go = tmp_path / "go"
        others = [start(["read", db_url, "6"]),
                  start(["write", db_url, "writer", str(EPISODES), str(CALLS), str(go)])]
        go.touch()
        switch.begin()
        resumed = subprocess.run([*CLI, "math", "--resume", "1", "--db", str(db),
                                  "--llm-url", url], cwd=REPO, capture_output=True,
                                 text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
        assert "database is locked" not in resumed.stdout + resumed.stderr
        for p in others:
            finish(p)
    check_writer_run(db_url, "writer")
    final = snapshot(db, "math", run_id=1)  # the math run, beside the writer's
    check_final(final, ref, switch, [before], len(switch.segments) - 1)


def test_a_reader_opening_a_database_being_created_waits_for_its_tables(
        tmp_path: Path) -> None:
    """A creator writes the version row first, then the tables; a reader that came between
    them called the database damaged ("lacks the trace tables"), found by the PostgreSQL
    two-writer test. Placed exactly: the tables come half a second after the version row."""
    from sqlalchemy import create_engine
    from sqlmodel import SQLModel

    from worldplan.traces.schema import SCHEMA_VERSION, Meta

    raw = create_engine(f"sqlite:///{tmp_path / 't.db'}")
    Meta.__table__.create(raw)  # type: ignore[attr-defined]
    with Session(raw) as s:
        s.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
        s.commit()
    later = threading.Timer(0.5, SQLModel.metadata.create_all, args=(raw,))
    later.start()
    engine = make_engine(str(tmp_path / "t.db"), create=False)
    later.join()
    with Session(engine) as s:
        assert s.exec(select(Run)).all() == []

