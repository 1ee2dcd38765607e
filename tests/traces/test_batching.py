"""Calls recorded inside `batching()` are written by a thread in batches: all of them are
stored by the block's end (and by an episode's end), none twice, and a failed write is an
error at the next flush, not a silent loss."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from tests.fakes.trace_db import call
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import Episode, LLMCall
from worldplan.traces.store import TraceStore


def test_batched_calls_are_all_stored_by_the_end_of_the_block(tmp_path: Path) -> None:
    store = TraceStore(make_engine(f"sqlite:///{tmp_path}/b.db"))
    run_id = store.start_run(kind="math")
    ep = store.start_episode(run_id, task_id="t")
    callers: set[str] = set()
    with store.batching():
        for i in range(1200):
            call(store, run_id, ep, f"prompt {i}", ["a", "b"], 10, 4)
        callers.add(threading.current_thread().name)
        done = store.finish_episode(ep)  # waits for the episode's queued calls
        assert done.llm_calls == 1200 and done.completion_tokens == 4800
    with Session(store.engine) as s:
        rows = list(s.exec(select(LLMCall)))
        assert len(rows) == 1200 and len({r.prompt for r in rows}) == 1200
        assert s.exec(select(Episode)).one().prompt_tokens == 12_000
    assert callers == {"MainThread"}


def test_a_failed_batch_write_is_raised_at_the_flush(tmp_path: Path) -> None:
    store = TraceStore(make_engine(f"sqlite:///{tmp_path}/b.db"))
    run_id = store.start_run(kind="math")
    with store.engine.begin() as c:
        c.execute(text("DROP TABLE llmcall"))
    with pytest.raises(RuntimeError, match="writing trace rows failed"):
        with store.batching():
            call(store, run_id, None, "p", ["a"], 1, 1)
