"""MATH through the agent graph on the real model server, with the bundled policy: the
probe's real samples and P(yes) give the difficulty, the route is the pure controller's
choice for that difficulty and budget, the budget holds, and the trace is complete.
The development model is tiny, so correctness is not asserted (the env grades it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from worldplan.agent.control.decide import decide
from worldplan.agent.control.policy import load_policy
from worldplan.agent.math.domain import ROUTE_OF, solve_with_graph
from worldplan.agent.runs.recorder import EpisodeRecorder
from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.compute_optimal import probe_size
from worldplan.envs.math.data import load_problems
from worldplan.envs.math.env import MathEnv
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import LLMCall, SearchNode, Step
from worldplan.traces.store import TraceStore, current_episode
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.verifier import GenerativeVerifier

BUDGET = 8  # generations: the probe (2 samples + 2 judgements fit in half) and the rest


@pytest.mark.server
def test_math_problem_through_the_graph_on_the_real_server(llm_server: Any,
                                                           tmp_path: Path) -> None:
    problem = next(p for p in load_problems("math500", limit=100) if p.level == 1)
    store = TraceStore(make_engine(f"sqlite:///{tmp_path}/g.db"))
    run_id = store.start_run(kind="math", strategy="graph")
    client = LLMClient(llm_server.url, llm_server.model, n_params=llm_server.n_params,
                       observers=[store.observer(run_id)], timeout_s=900)
    policy = load_policy()
    budget = Budget(max_generations=BUDGET)
    ctx = SearchContext(client, GenerativeVerifier(client), budget, max_tokens=48,
                        step_max_tokens=24, seed=3)
    env = MathEnv(problems=[problem])
    episode_id = store.start_episode(run_id, env="worldplan/Math-v0", task_id=problem.uid)

    async def go() -> Any:
        token = current_episode.set(episode_id)
        try:
            return await solve_with_graph(problem.problem, ctx, mode="compute-optimal",
                                          policy=policy, env=env,
                                          recorder=EpisodeRecorder(store, episode_id))
        finally:
            current_episode.reset(token)
            await client.aclose()

    final, domain = asyncio.run(go())
    env.close()
    assert final["done"] and final["step"] == 1
    assert final["reward"] in (0.0, 1.0)
    est = final["difficulty"]
    assert est["source"] in ("predicted", "learned") and est["bin"] in (1, 2, 3, 4, 5)
    # the graph's route is the pure controller's choice for this difficulty and budget
    want = decide(est["bin"], BUDGET, policy)
    assert final["decision"]["params"]["strategy"] == want.strategy
    assert final["decision"]["route"] == ROUTE_OF.get(want.strategy, "act")
    assert budget.spent_generations <= BUDGET
    with Session(store.engine) as s:
        step = s.exec(select(Step).where(Step.episode_id == episode_id)).one()
        nodes = list(s.exec(select(SearchNode).where(SearchNode.episode_id == episode_id)))
        calls = list(s.exec(select(LLMCall).where(LLMCall.episode_id == episode_id)))
    assert step.decision["route"] == final["decision"]["route"]
    assert step.reward == final["reward"] and step.terminated
    probes = [n for n in nodes if n.info.get("probe")]
    assert len(probes) == probe_size(int(policy.probe["n"]),
                                     float(policy.probe.get("max_fraction", 0.5)), BUDGET, 0)
    assert sum(n.chosen for n in nodes) == 1
    # the verifier is free (as in the paper): the budget holds the other calls' charges
    charged = [c for c in calls if c.error == "" and c.role != "verifier"]
    assert sum(int(c.tags["equivalents"]) for c in charged) == budget.spent_generations
    assert sum(c.prompt_tokens - (c.cached_tokens or 0) + c.completion_tokens
               for c in charged) == budget.spent_tokens
