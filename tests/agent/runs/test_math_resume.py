"""Resuming a MATH run whose process died mid-problem (agent.runs.math, traces.resume): the
killed problem continues under its episode, its stored calls are answered from the trace
(nothing asked again, nothing stored twice) and it ends as it would have uninterrupted.

The beam case is the one the fault harness (tests/faults) found: answered instantly from the
trace, beam search's first sample ran to its end before the second was sent, so the second
took another seed and the resumed problem a different answer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlmodel import Session, select

from tests.fakes.openai_server import OpenAIServer
from tests.faults.models import math_respond, write_problems
from worldplan.agent.runs.math import MathRunConfig, run_math
from worldplan.envs.math.grader import Grader
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import Episode, LLMCall, SearchNode, Step
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.verifier import GenerativeVerifier


def solve(config: MathRunConfig, store: TraceStore, grader: Grader,
          resume: int | None = None) -> tuple[int, OpenAIServer]:
    """Over real HTTP: answers come back after the other requests went out, as from a real
    server (an in-process transport answers at once, which orders the requests otherwise)."""
    server = OpenAIServer(math_respond)
    with server.serve() as url:
        client = LLMClient(url, model="scripted")
        summary = run_math(config, client=client, verifier=GenerativeVerifier(client),
                           store=store, grader=grader, resume=resume)
    return summary.run_id, server


def as_if_killed(db: Path, task: str) -> None:
    """The state a SIGKILL leaves after the problem's last call, before its episode ended:
    its calls stored, no step or nodes, it and its run still `running` (pid 0: no process)."""
    with sqlite3.connect(db) as con:
        (ep,) = con.execute("select id from episode where task_id = ?", (task,)).fetchone()
        con.execute("delete from step where episode_id = ?", (ep,))
        con.execute("delete from searchnode where episode_id = ?", (ep,))
        con.execute("update episode set status = 'running', ended_at = null where id = ?",
                    (ep,))
        con.execute("update run set status = 'running', pid = 999999999, ended_at = null")


def rows(store: TraceStore) -> dict[str, tuple[object, ...]]:
    with Session(store.engine) as s:
        eps = list(s.exec(select(Episode)))
        out = {}
        for e in eps:
            calls = s.exec(select(LLMCall).where(LLMCall.episode_id == e.id)).all()
            steps = s.exec(select(Step).where(Step.episode_id == e.id)).all()
            nodes = s.exec(select(SearchNode).where(SearchNode.episode_id == e.id)).all()
            out[e.task_id] = (e.status, e.answer, e.reward, e.completion_tokens,
                              e.generations, e.llm_calls, sorted(c.cache_key for c in calls),
                              [(st.index, st.action) for st in steps], len(nodes))
    return out


@pytest.mark.parametrize("strategy, budget, params", [
    ("beam", 8, {"n_beams": 2, "width": 1}),
    ("best_of_n", 6, {}),
])
def test_a_problem_killed_after_its_calls_replays_them_all(
        tmp_path: Path, grader: Grader, strategy: str, budget: int,
        params: dict[str, int]) -> None:
    data = write_problems(tmp_path / "p.jsonl", 3)
    config = MathRunConfig(dataset=str(data), limit=None, strategy=strategy, params=params,
                           budget_generations=budget, max_tokens=24, step_max_tokens=10,
                           seed=3, concurrency=2)
    db = tmp_path / "t.db"
    store = TraceStore(make_engine(str(db)))
    run_id, first = solve(config, store, grader)
    before = rows(store)
    as_if_killed(db, "faults/1")
    _, resumed = solve(config, store, grader, resume=run_id)
    assert resumed.requests == []  # every call of the killed problem was answered from the trace
    assert rows(store) == before  # and it ended as it had: same answer, tokens, rows


def test_a_problem_killed_halfway_asks_only_what_was_not_stored(
        tmp_path: Path, grader: Grader) -> None:
    data = write_problems(tmp_path / "p.jsonl", 2)
    config = MathRunConfig(dataset=str(data), limit=None, strategy="best_of_n",
                           budget_generations=6, max_tokens=24, seed=3)
    db = tmp_path / "t.db"
    store = TraceStore(make_engine(str(db)))
    run_id, first = solve(config, store, grader)
    before = rows(store)
    as_if_killed(db, "faults/0")
    with sqlite3.connect(db) as con:  # the last two calls had not been stored
        con.execute("delete from llmcall where id in (select id from llmcall where "
                    "episode_id = 1 order by id desc limit 2)")
    _, resumed = solve(config, store, grader, resume=run_id)
    assert len(resumed.requests) == 2
    assert rows(store) == before
