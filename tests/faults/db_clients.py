"""Processes that share one trace database in the concurrency tests (tests.faults).

    python -m tests.faults.db_clients write URL LABEL EPISODES CALLS GO_FILE
        one run of EPISODES episodes, 8 at a time, each with CALLS LLM calls (through the
        real client and the store's observer, against the in-process scripted server), a
        step and two search nodes, finished with its totals; starts when GO_FILE exists, so
        that writers begin (and create a new database) at the same moment
    python -m tests.faults.db_clients read URL SECONDS
        reads for SECONDS what `worldplan runs` and `replay` read (runs, episodes, an
        episode's detail), as fast as it can; prints how many reads it made

Each prints one JSON line (what it did, and every error it met, by type and message) and
exits 0 unless it failed; the tests check that nothing was lost and nothing failed with
"database is locked".
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import traceback
from pathlib import Path

from tests.fakes.scripted_server import FakeServer
from worldplan.traces import query
from worldplan.traces.engine import make_engine
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient


def write(url: str, label: str, episodes: int, calls: int, go: Path) -> dict[str, object]:
    while not go.exists():
        time.sleep(0.005)
    store = TraceStore(make_engine(url))
    client = LLMClient("http://fake", model="fake", transport=FakeServer().transport())
    gate = asyncio.Semaphore(8)

    async def episode(run_id: int, k: int) -> None:
        async with gate:
            with store.episode_scope(run_id, task_id=f"{label}-{k}", seed=k) as ep:
                for j in range(calls):
                    await client.chat([{"role": "user", "content": f"{label} {k} {j}"}], n=2)
                store.finish_episode(
                    ep, reward=1.0, success=True,
                    nodes=[{"key": "a", "kind": "answer", "scores": [0.5]},
                           {"key": "b", "kind": "answer", "info": {"k": k}}],
                    steps=[{"index": 0, "action": f"answer {k}", "info": {"label": label}}])

    async def main(run_id: int) -> None:
        try:
            await asyncio.gather(*(episode(run_id, k) for k in range(episodes)))
        finally:
            await client.aclose()

    with store.run_scope(name=label, kind="bench", config={"label": label}) as run_id:
        with store.recording(run_id, client):
            asyncio.run(main(run_id))
    return {"run": run_id}


def read(url: str, seconds: float) -> dict[str, object]:
    deadline, reads, errors = time.time() + seconds, 0, []
    engine = None
    while time.time() < deadline:
        try:
            engine = engine or make_engine(url, create=False)
            for run in query.runs(engine):
                for ep in query.episodes(engine, run.id)[:3]:
                    query.episode_detail(engine, ep.id, ep)
            reads += 1
        except Exception as e:  # counted, and the test fails on any
            if "no trace database" in str(e) or "holds no worldplan traces" in str(e):
                time.sleep(0.01)  # not created yet
                continue
            errors.append(f"{type(e).__name__}: {e}")
    return {"reads": reads, "errors": errors}


def main(argv: list[str]) -> None:
    try:
        if argv[0] == "write":
            out = write(argv[1], argv[2], int(argv[3]), int(argv[4]), Path(argv[5]))
        else:
            out = read(argv[1], float(argv[2]))
    except Exception as e:
        print(json.dumps({"errors": [f"{type(e).__name__}: {e}"],
                          "traceback": traceback.format_exc()}))
        sys.exit(1)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
