"""Trace store on real SQLite files: writes, totals, concurrency, interrupted runs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlmodel import Session, select

from tests.fakes.scripted_server import FakeServer
from worldplan.traces.engine import SchemaVersionError, make_engine
from worldplan.traces.schema import Episode, LLMCall, Meta, Run, SearchNode, Step
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient

REPO = Path(__file__).resolve().parents[2]


def test_wal_mode_and_version(tmp_path: Path) -> None:
    engine = make_engine(str(tmp_path / "t.db"))
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    with Session(engine) as s:
        assert s.get(Meta, "schema_version") is not None


def test_run_episode_calls_and_totals(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 't.db'}")
    store = TraceStore(engine)
    client = LLMClient("http://fake:1", transport=FakeServer().transport(), n_params=10)
    with store.run_scope(kind="math", model="fake", config={"budget": 4}) as run_id:
        client.observers.append(store.observer(run_id))

        async def episode(k: int) -> None:
            with store.episode_scope(run_id, env="math", task_id=f"p{k}") as ep:
                await client.chat([{"role": "user", "content": f"q{k}"}], n=k + 1, role="proposer")
                await client.chat([{"role": "user", "content": "judge"}], role="verifier")
                store.add_step(ep, observation=f"q{k}", action="answer", reward=1.0)
                store.add_nodes(ep, [{"key": "a", "kind": "answer", "text": "x", "score": 0.5}])
                store.finish_episode(ep, reward=1.0, success=True)

        async def main() -> None:
            await asyncio.gather(*(episode(k) for k in range(4)))

        asyncio.run(main())
    with Session(engine) as s:
        run = s.exec(select(Run)).one()
        assert run.status == "completed" and run.ended_at and run.versions.get("sqlmodel")
        eps = s.exec(select(Episode).order_by(Episode.task_id)).all()
        assert [e.llm_calls for e in eps] == [2, 2, 2, 2]
        # fake: 11 prompt tokens a call, 7 completion tokens a sample
        assert [e.completion_tokens for e in eps] == [7 * (k + 1) + 7 for k in range(4)]
        assert [e.generations for e in eps] == [k + 2 for k in range(4)]
        assert all(e.flops == 2 * 10 * (e.prompt_tokens + e.completion_tokens) for e in eps)
        calls = s.exec(select(LLMCall)).all()
        assert {c.role for c in calls} == {"proposer", "verifier"}
        assert all(c.run_id == run_id and c.episode_id is not None for c in calls)
        assert len(s.exec(select(Step)).all()) == 4
        assert len(s.exec(select(SearchNode)).all()) == 4


def test_failure_inside_episode_marks_it_failed(tmp_path: Path) -> None:
    store = TraceStore(make_engine(str(tmp_path / "t.db")))
    with pytest.raises(ValueError), store.run_scope(kind="math") as run_id:
        with store.episode_scope(run_id, task_id="x"):
            raise ValueError("boom")
    with Session(store.engine) as s:
        assert s.exec(select(Run)).one().status == "failed"
        ep = s.exec(select(Episode)).one()
        assert ep.status == "failed" and "boom" in ep.error


def test_threads_write_concurrently(tmp_path: Path) -> None:
    store = TraceStore(make_engine(str(tmp_path / "t.db")))
    run_id = store.start_run(kind="bench")
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for j in range(20):
                ep = store.start_episode(run_id, task_id=f"{k}-{j}")
                store.add_step(ep, action="a")
                store.finish_episode(ep, reward=0.0)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with Session(store.engine) as s:
        assert len(s.exec(select(Episode).where(Episode.status == "completed")).all()) == 160


def test_killed_run_is_marked_interrupted(tmp_path: Path) -> None:
    """A process killed with SIGKILL mid-run: its run and open episode become interrupted."""
    db = tmp_path / "t.db"
    script = textwrap.dedent(f"""
        import time
        from worldplan.traces.engine import make_engine
        from worldplan.traces.store import TraceStore
        store = TraceStore(make_engine({str(db)!r}))
        run = store.start_run(kind="math")
        done = store.start_episode(run, task_id="done")
        store.finish_episode(done, reward=1.0)
        store.start_episode(run, task_id="open")
        print("ready", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = TraceStore(make_engine(str(db)))
    assert len(store.reconcile()) == 1
    with Session(store.engine) as s:
        assert s.exec(select(Run)).one().status == "interrupted"
        by_task = {e.task_id: e.status for e in s.exec(select(Episode))}
    assert by_task == {"done": "completed", "open": "interrupted"}


def sigterm_when_ready(script: str) -> None:
    """Run `script` in a new Python; SIGTERM it once it prints "ready"; it exits 143."""
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143


def test_sigterm_marks_run_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    script = textwrap.dedent(f"""
        import signal, sys, time
        from worldplan.traces.engine import make_engine
        from worldplan.traces.store import TraceStore
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
        store = TraceStore(make_engine({str(db)!r}))
        with store.run_scope(kind="math"):
            print("ready", flush=True)
            time.sleep(60)
    """)
    sigterm_when_ready(script)
    with Session(make_engine(str(db))) as s:
        run = s.exec(select(Run)).one()
    assert run.status == "interrupted" and run.ended_at is not None


def test_sigterm_inside_asyncio_marks_run_and_episode_interrupted(tmp_path: Path) -> None:
    """asyncio.run answers the SystemExit with CancelledError inside the scopes: a stop,
    not a failure (the calibration and the web agent run this way)."""
    db = tmp_path / "t.db"
    script = textwrap.dedent(f"""
        import asyncio, signal, sys
        from worldplan.traces.engine import make_engine
        from worldplan.traces.store import TraceStore
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
        store = TraceStore(make_engine({str(db)!r}))

        async def main():
            with store.run_scope(kind="calibrate") as run_id:
                with store.episode_scope(run_id, task_id="p"):
                    print("ready", flush=True)
                    await asyncio.sleep(60)

        asyncio.run(main())
    """)
    sigterm_when_ready(script)
    with Session(make_engine(str(db))) as s:
        run = s.exec(select(Run)).one()
        ep = s.exec(select(Episode)).one()
    assert run.status == "interrupted" and ep.status == "interrupted"


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as c:
        c.execute("create table stuff (x int)")
    with pytest.raises(SchemaVersionError, match="not a worldplan trace database"):
        make_engine(str(path))


def test_resume_run_refuses_live_and_reopens_dead(tmp_path: Path) -> None:
    store = TraceStore(make_engine(str(tmp_path / "t.db")))
    run_id = store.start_run(kind="math")
    store.finish_run(run_id, "interrupted")
    run = store.resume_run(run_id)
    assert run.status == "running" and run.pid == os.getpid()
    time.sleep(0.01)
    with pytest.raises(KeyError):
        store.resume_run(run_id + 100)


def test_many_processes_create_one_database_at_once(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    script = (f"from traces.engine import make_engine\n"
              f"from traces.store import TraceStore\n"
              f"s = TraceStore(make_engine({str(db)!r}))\n"
              f"s.finish_run(s.start_run(kind='x'))\n")
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stderr=subprocess.PIPE,
                              text=True) for _ in range(6)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    with Session(make_engine(str(db))) as s:
        assert len(s.exec(select(Run).where(Run.status == "completed")).all()) == 6
