"""End to end on the real model server: every strategy solves a real MATH-500 problem.

The development model is tiny, so correctness is not asserted; everything else is: the
strategies run against real completions and real P(yes) distributions, answers are graded
by the env, budgets hold, and the trace DB's calls equal each strategy's own accounting.
Budgets and max_tokens are small: the CPU server decodes ~10 tokens/s, shared.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select

from worldplan.agent.runs.math import MathRunConfig, solve_problem
from worldplan.envs.math.data import load_problems
from worldplan.envs.math.grader import Grader
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import Episode, LLMCall, SearchNode
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.verifier import GenerativeVerifier

CASES: dict[str, dict[str, Any]] = {
    "best_of_n": {"n": 2},
    "majority": {"n": 2},
    "revisions": {"chains": 1, "per_chain": 2, "history": 1},
    "beam": {"n_beams": 2, "width": 1, "max_rounds": 2},
    "lookahead": {"k": 1, "n_beams": 1, "width": 1, "max_rounds": 2},
}


@pytest.mark.server
def test_every_strategy_end_to_end(llm_server: Any, tmp_path: Path, grader: Grader) -> None:
    problem = next(p for p in load_problems("math500", limit=100) if p.level == 1)
    store = TraceStore(make_engine(f"sqlite:///{tmp_path}/s.db"))
    run_id = store.start_run(kind="math", strategy="all")
    client = LLMClient(llm_server.url, llm_server.model, n_params=llm_server.n_params,
                       observers=[store.observer(run_id)], timeout_s=900)
    verifier = GenerativeVerifier(client)

    async def run_all() -> list[Any]:
        configs = [MathRunConfig(strategy=name, params=params, budget_generations=4,
                                 max_tokens=48, step_max_tokens=24, seed=1)
                   for name, params in CASES.items()]
        return await asyncio.gather(*[
            solve_problem(c, problem, 0, run_id, client, verifier, store, grader)
            for c in configs])

    outcomes = asyncio.run(run_all())
    assert len(outcomes) == len(CASES)
    with Session(store.engine) as s:
        eps = list(s.exec(select(Episode)))
        for ep in eps:
            assert ep.status == "completed" and ep.reward in (0.0, 1.0), ep
            assert ep.info["grade_status"] in ("ok", "no_answer", "error")
            spent = ep.info["budget"]
            assert spent["spent_generations"] <= 4 and ep.generations == spent["spent_generations"]
            solver, ver = ep.info["solver"], ep.info["verifier"]
            calls = s.exec(select(func.count(LLMCall.id),  # type: ignore[arg-type]
                                  func.sum(LLMCall.completion_tokens))
                           .where(LLMCall.episode_id == ep.id, LLMCall.error == "")).one()
            assert calls[0] == solver["calls"] + ver["calls"] == ep.llm_calls
            assert calls[1] == solver["completion_tokens"] + ver["completion_tokens"]
            assert solver["completion_tokens"] > 0
            if ep.strategy != "majority":
                assert ver["calls"] >= 1
            scores = s.exec(select(SearchNode.score).where(SearchNode.episode_id == ep.id)).all()
            assert all(sc is None or 0.0 <= sc <= 1.0 for sc in scores)
        verifier_calls = s.exec(select(LLMCall).where(LLMCall.role == "verifier")).all()
    assert verifier_calls and all(c.completion_tokens == 1 for c in verifier_calls)
    assert {e.strategy for e in eps} == set(CASES)
