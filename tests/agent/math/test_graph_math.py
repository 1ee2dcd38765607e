"""MATH through the agent graph on a scripted model: the controller's route (act / revise /
branch) follows the probe's difficulty, the budget holds, and the graph is a strategy."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from tests.fakes.math_llm import ScriptedLLM
from worldplan.agent.control.policy import Policy, PolicyEntry
from worldplan.agent.math.domain import solve_with_graph
from worldplan.agent.runs.math import MathRunConfig, solve_problem
from worldplan.agent.strategies.base import SearchContext
from worldplan.envs.math.data import MathProblem
from worldplan.envs.math.env import MathEnv
from worldplan.envs.math.grader import Grader
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import SearchNode, Step
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.verifier import GenerativeVerifier

PROBLEM = MathProblem("u1", "What is x if x + x = 4?", "2", 1, "Algebra")


def policy() -> Policy:
    """Budget 12: bins 1-2 best-of-N, bin 3 revisions, bins 4-5 beam (hand-built)."""
    route = {1: "best_of_n", 2: "best_of_n", 3: "revisions", 4: "beam", 5: "beam"}
    entries = [PolicyEntry(None, 12, "best_of_n", {}, 0.5, 10)]
    entries += [PolicyEntry(b, 12, s, {}, 0.5, 2) for b, s in route.items()]
    return Policy(entries, probe={"n": 2, "max_fraction": 0.5})


def scripted(answers: list[str], p_yes: float) -> ScriptedLLM:
    it = iter(answers * 50)
    return ScriptedLLM(lambda _p, _b: f"x + x = 4 so \\boxed{{{next(it)}}}", lambda _p: p_yes)


def ctx_of(fake: ScriptedLLM, budget: Budget) -> SearchContext:
    client = LLMClient("http://fake", transport=fake.transport(), retries=0)
    return SearchContext(client, GenerativeVerifier(client), budget, max_tokens=24,
                         step_max_tokens=10, seed=0)


@pytest.mark.parametrize("answers, p_yes, route, strategy, bin_", [
    (["2"], 0.9, "act", "best_of_n", 1),  # probe agrees and is trusted: easy
    (["2"], 0.1, "revise", "revisions", 3),  # agrees but distrusted: middling
    (["2", "3"], 0.1, "branch", "beam", 4),  # disagrees and distrusted: hard
])
def test_math_route_follows_the_controller(answers: list[str], p_yes: float, route: str,
                                           strategy: str, bin_: int, grader: Grader) -> None:
    fake = scripted(answers, p_yes)
    budget = Budget(max_generations=12)
    env = MathEnv(problems=[PROBLEM], grader=grader)
    final, domain = asyncio.run(solve_with_graph(PROBLEM.problem, ctx_of(fake, budget),
                                                 policy=policy(), env=env))
    d = final["decision"]
    assert (d["route"], d["params"]["strategy"], d["difficulty"]) == (route, strategy, bin_)
    assert final["done"] and final["step"] == 1 and final["stop_reason"] == "done"
    assert final["reward"] == 1.0 and final["answer"] == "2"
    assert budget.spent_generations <= 12 and len(fake.served) >= 4  # probe: 2 + 2 judged
    kinds = [n["kind"] for n in final["nodes"]]
    assert kinds[:2] == ["proposal", "proposal"] and len(kinds) > 2


@pytest.mark.parametrize("mode, route", [("reactive", "act"), ("revise", "revise"),
                                         ("search", "branch")])
def test_fixed_modes_skip_the_probe(mode: str, route: str) -> None:
    fake = scripted(["2"], 0.9)
    budget = Budget(max_generations=8)
    final, domain = asyncio.run(solve_with_graph(PROBLEM.problem, ctx_of(fake, budget),
                                                 mode=mode))
    assert final["decision"]["route"] == route and final["candidates"] == []
    assert final["answer"] == "2" and budget.spent_generations <= 8
    if mode == "reactive":
        assert len(fake.served) == 1  # one sample, nothing else


def test_graph_as_a_strategy_in_the_math_runner(tmp_path: Path, grader: Grader,
                                                monkeypatch: Any) -> None:
    import worldplan.agent.math.domain as gm

    monkeypatch.setattr(gm, "load_policy", lambda _p=None: policy())
    fake = scripted(["2", "3"], 0.1)
    store = TraceStore(make_engine(f"sqlite:///{tmp_path / 't.db'}"))
    run_id = store.start_run(kind="math", strategy="graph")
    client = LLMClient("http://fake", transport=fake.transport(), retries=0,
                       observers=[store.observer(run_id)])
    config = MathRunConfig(strategy="graph", budget_generations=12, max_tokens=24,
                           step_max_tokens=10)
    out = asyncio.run(solve_problem(config, PROBLEM, 0, run_id, client,
                                    GenerativeVerifier(client), store, grader))
    assert out.correct and out.generations <= 12
    with Session(store.engine) as s:
        step = s.exec(select(Step)).one()
        nodes = s.exec(select(SearchNode)).all()
    assert step.decision["strategy"] == "graph"
    assert step.decision["params"]["decision"]["route"] == "branch"
    assert sum(n.chosen for n in nodes) == 1 and any(n.kind == "probe" for n in nodes)
