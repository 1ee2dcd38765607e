"""The same trace models on a real PostgreSQL server (a throwaway cluster on loopback).

`make test` installs PostgreSQL where it can (Debian, as root); elsewhere these tests are
skipped with the reason.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

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
