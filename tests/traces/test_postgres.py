"""The same trace models on a real PostgreSQL server (a throwaway cluster on loopback).

`make test` installs PostgreSQL where it can (Debian, as root); elsewhere these tests are
skipped with the reason. Besides one process's traces: two writer processes creating the
schema and writing at the same moment while a third reads, and a killed `worldplan math`
run resumed while others read and write (the fault harness of tests/faults).
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from tests.fakes.scripted_server import FakeServer
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import Episode, LLMCall, Run
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.serving import free_port


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    pytest.importorskip("psycopg")
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        pytest.skip("PostgreSQL is not installed (scripts/install_services.sh installs it)")
    bin_dir = bins[-1]
    base = tempfile.mkdtemp(prefix="worldplan-pg-")
    os.chmod(base, 0o755)
    data = os.path.join(base, "data")
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user
        os.makedirs(data)
        shutil.chown(data, "postgres", "postgres")
        shutil.chown(base, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run([*as_user, f"{bin_dir}/initdb", "-D", data, "-A", "trust", "-U",
                    "worldplan"], check=True, capture_output=True)
    subprocess.run([*as_user, f"{bin_dir}/pg_ctl", "-D", data, "-w", "-l",
                    os.path.join(base, "log"), "-o",
                    f"-p {port} -k {base} -c listen_addresses=127.0.0.1", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://worldplan@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, f"{bin_dir}/pg_ctl", "-D", data, "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_traces_on_postgres(pg_url: str) -> None:
    store = TraceStore(make_engine(pg_url))
    client = LLMClient("http://fake:1", transport=FakeServer().transport(), n_params=10)
    with store.run_scope(kind="math", config={"db": "pg"}) as run_id:
        client.observers.append(store.observer(run_id))

        async def episode(k: int) -> None:
            with store.episode_scope(run_id, task_id=f"p{k}") as ep:
                await client.chat([{"role": "user", "content": "q"}], n=2)
                store.add_nodes(ep, [{"key": "a", "kind": "answer", "scores": [0.1, 0.9]}])
                store.finish_episode(ep, reward=1.0)

        async def main() -> None:
            await asyncio.gather(*(episode(k) for k in range(5)))

        asyncio.run(main())
    engine = make_engine(pg_url)  # reopening checks the schema version
    with Session(engine) as s:
        assert s.exec(select(Run)).one().status == "completed"
        eps = s.exec(select(Episode)).all()
        assert len(eps) == 5 and all(e.completion_tokens == 14 and e.generations == 2
                                     for e in eps)
        assert len(s.exec(select(LLMCall)).all()) == 5


# ---- several processes on one PostgreSQL database (tests/faults) --------------------------

def fresh_database(pg_url: str, name: str) -> str:
    """A new, empty database in the cluster; its SQLAlchemy URL."""
    import psycopg

    with psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql"),
                         autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return pg_url.rsplit("/", 1)[0] + "/" + name


def test_a_table_created_by_another_process_meanwhile(pg_url: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes create a new database's tables at once; one checks that a table is
    missing, the other creates it, the first tries to: PostgreSQL answers "relation already
    exists" (a ProgrammingError), which used to stop the first process with a traceback
    (found by the two-writer test below, about one round in four). Placed exactly: the
    first check of a table says "missing" although the other process made it."""
    import sqlalchemy.sql.ddl as ddl

    url = fresh_database(pg_url, "raced")
    make_engine(url)  # the other process, done
    real = ddl.SchemaGenerator._can_create_table
    stale = iter([True])  # the first check came before the other process created the table

    def can_create(self: ddl.SchemaGenerator, table: object) -> bool:
        return next(stale, None) or real(self, table)  # type: ignore[arg-type]

    monkeypatch.setattr(ddl.SchemaGenerator, "_can_create_table", can_create)
    store = TraceStore(make_engine(url))
    assert store.start_run(kind="math") == 1


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(2))
def test_two_writers_and_a_reader_on_a_new_postgres_database(pg_url: str, tmp_path: Path,
                                                               round_: int) -> None:
    """Both writers create the schema at the same moment, then write their runs while a
    third process reads: nothing lost, nothing failed."""
    from tests.faults.test_two_writers import two_writers_and_a_reader

    two_writers_and_a_reader(fresh_database(pg_url, f"writers{round_}"), tmp_path)


@pytest.mark.slow
def test_a_killed_run_resumes_on_postgres_while_others_read_and_write(
        pg_url: str, tmp_path: Path) -> None:
    """`worldplan math` on PostgreSQL, SIGKILLed at its 11th request, resumed while another
    process reads and a third writes its own run: the resumed run ends as an uninterrupted
    one (answers, rewards, exact tokens, the calls stored under each problem), and no stored
    answer was asked again."""
    from tests.faults.harness import CLI, REPO, switched, wait_idle
    from tests.faults.models import math_respond, write_problems
    from tests.faults.test_kill_math import math_args
    from tests.faults.test_two_writers import CALLS, EPISODES, check_writer_run, finish, start

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    data = write_problems(tmp_path / "problems.jsonl", 6)
    ref_url, url = fresh_database(pg_url, "reference"), fresh_database(pg_url, "resumed")
    with switched(math_respond) as (switch, server, llm):
        switch.begin()
        subprocess.run(math_args(data, "best_of_n", ref_url, llm), cwd=REPO, check=True,
                       capture_output=True, env=env)
        switch.begin(kill_at=11)
        killed = subprocess.Popen(math_args(data, "best_of_n", url, llm), cwd=REPO,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        switch.attach(killed)
        assert killed.wait(timeout=300) == -9
        wait_idle(server)
        stored = calls_by_key(url)
        go = tmp_path / "go"
        others = [start(["read", url, "6"]),
                  start(["write", url, "writer", str(EPISODES), str(CALLS), str(go)])]
        go.touch()
        switch.begin()
        resumed = subprocess.run([*CLI, "math", "--resume", "1", "--db", url, "--llm-url", llm],
                                 cwd=REPO, capture_output=True, text=True, env=env)
        assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
        for p in others:
            finish(p)
    check_writer_run(url, "writer")
    assert math_episodes(url) == math_episodes(ref_url)
    ref_calls = calls_by_key(ref_url)
    assert calls_by_key(url) == ref_calls
    for key, n in switch.segments[-1].items():  # the resumed process asked only the rest
        assert n <= ref_calls[key] - stored.get(key, 0)


def calls_by_key(url: str) -> dict[str, int]:
    with Session(make_engine(url, create=False)) as s:
        rows = s.exec(select(LLMCall).where(LLMCall.run_id == 1, LLMCall.error == "")).all()
    out: dict[str, int] = {}
    for c in rows:
        out[c.cache_key] = out.get(c.cache_key, 0) + 1
    return out


def math_episodes(url: str) -> list[tuple[object, ...]]:
    with Session(make_engine(url, create=False)) as s:
        run = s.get(Run, 1)
        eps = s.exec(select(Episode).where(Episode.run_id == 1)).all()
    assert run is not None and run.status == "completed"
    return sorted((e.task_id, e.status, e.answer, e.reward, e.prompt_tokens,
                   e.completion_tokens, e.generations, e.llm_calls) for e in eps)
