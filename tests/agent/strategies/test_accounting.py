"""Every strategy x budget unit x verifier kind x verifier cost, on a scripted model that
reports cached prompt tokens: the budget is never exceeded, it is used (to within one unit
where the strategy can plan it), and the server's figures, the strategy's result, the
trace database and the budget's charge agree in all three units."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import Session, select

from tests.agent.strategies.scripted import boxed_score, generic_solve
from tests.fakes.math_llm import ScriptedLLM
from worldplan.agent.math.solvers import SOLVERS
from worldplan.agent.runs.math import MathRunConfig, solve_problem
from worldplan.agent.strategies.base import JUDGE_EXTRA_TOKENS
from worldplan.envs.math.data import MathProblem
from worldplan.envs.math.grader import Grader
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import Episode, LLMCall, SearchNode
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.verifier import GenerativeVerifier, PRMVerifier, Verifier

PARAMS = 1000  # the scripted model's parameter count (FLOPs = 2 x 1000 x tokens)
MAX_TOKENS, STEP_TOKENS = 24, 10
BUDGETS = {"generations": 12, "tokens": 700, "flops": 2.0 * PARAMS * 700}
PLANNED = {"best_of_n", "best_of_n_naive", "majority", "revisions"}  # use any unit to 1
SEARCHES = {"beam", "lookahead", "dvts"}  # plan N in generation-equivalents exactly
SHOWN_FRAME = 16  # chunks framing an earlier attempt in a revision prompt, at most


def make_verifier(kind: str, client: LLMClient) -> Verifier | None:
    return {"generative": GenerativeVerifier(client), "prm": PRMVerifier(client),
            "none": None}[kind]


@pytest.mark.parametrize("charged", [False, True], ids=["free", "charged"])
@pytest.mark.parametrize("kind", ["generative", "prm", "none"])
@pytest.mark.parametrize("unit", list(BUDGETS))
@pytest.mark.parametrize("strategy", list(SOLVERS))
def test_spent_within_budget_and_equal_everywhere(strategy: str, unit: str, kind: str,
                                                  charged: bool, tmp_path: Any,
                                                  grader: Grader) -> None:
    fake = ScriptedLLM(generic_solve, boxed_score({"2": 0.7, "3": 0.4}), cache=True)
    store = TraceStore(make_engine(f"sqlite:///{tmp_path}/t.db"))
    run_id = store.start_run(kind="math", strategy=strategy)
    client = LLMClient("http://fake", transport=fake.transport(), retries=0,
                       observers=[store.observer(run_id)], n_params=PARAMS)
    limit = BUDGETS[unit]
    config = MathRunConfig(
        strategy=strategy, budget_generations=int(limit) if unit == "generations" else None,
        budget_tokens=int(limit) if unit == "tokens" else None,
        budget_flops=limit if unit == "flops" else None, verifier_charged=charged,
        max_tokens=MAX_TOKENS, step_max_tokens=STEP_TOKENS)
    problem = MathProblem("u1", "What is x if x + x = 4?", "2", 1, "Algebra")
    outcome = asyncio.run(solve_problem(config, problem, 0, run_id, client,
                                        make_verifier(kind, client), store, grader))
    with Session(store.engine) as s:
        ep = s.exec(select(Episode)).one()
        calls = list(s.exec(select(LLMCall).where(LLMCall.error == "")))
        n_nodes = len(list(s.exec(select(SearchNode))))
    roles = {"solver": ep.info["solver"], "verifier": ep.info["verifier"]}
    spent = ep.info["budget"]

    def tokens(c: dict[str, Any]) -> int:
        return int(c["prompt_tokens"]) - int(c["cached_tokens"]) + int(c["completion_tokens"])

    judged = [c for c in calls if c.role == "verifier"]
    charged_calls = calls if charged else [c for c in calls if c.role != "verifier"]
    served = sum(u["prompt_tokens"] - u["cached_tokens"] + u["completion_tokens"]
                 for u in fake.served)
    trace = sum(c.prompt_tokens - (c.cached_tokens or 0) + c.completion_tokens for c in calls)
    # tokens: the server's = the strategy's = the trace's; the budget holds what was charged
    assert served == tokens(roles["solver"]) + tokens(roles["verifier"]) == trace
    assert served == ep.info["tokens"]
    assert spent["spent_tokens"] == sum(
        c.prompt_tokens - (c.cached_tokens or 0) + c.completion_tokens for c in charged_calls)
    # FLOPs: 2 x parameters x tokens, everywhere
    assert roles["solver"]["flops"] + roles["verifier"]["flops"] == pytest.approx(
        2 * PARAMS * served) == pytest.approx(ep.flops)
    assert spent["spent_flops"] == pytest.approx(
        sum(c.flops or 0.0 for c in charged_calls))
    # generation-equivalents: what the strategy says it charged = the trace's = the budget's
    eq = {c.role: 0 for c in calls}
    for c in calls:
        eq[c.role] += int(c.tags["equivalents"])
    assert roles["verifier"]["generations"] == eq.get("verifier", 0)
    assert roles["solver"]["generations"] == sum(v for r, v in eq.items() if r != "verifier")
    assert spent["spent_generations"] == sum(int(c.tags["equivalents"]) for c in charged_calls)
    assert ep.generations == sum(eq.values()) == outcome.generations
    if not charged:
        assert all(int(c.tags["equivalents"]) == 0 for c in judged)
    # samples: the server's n = the strategy's samples
    assert sum(u["n"] for u in fake.served) == (roles["solver"]["samples"]
                                                + roles["verifier"]["samples"])
    assert len(fake.served) == roles["solver"]["calls"] + roles["verifier"]["calls"]
    assert n_nodes == ep.info["nodes"] >= 1
    # never over budget, and something was always tried
    used = {"generations": spent["spent_generations"], "tokens": spent["spent_tokens"],
            "flops": spent["spent_flops"]}[unit]
    assert used <= limit
    assert roles["solver"]["samples"] >= 1
    # used to within one unit, where the strategy plans its use of the budget
    if unit == "generations" and strategy in PLANNED | SEARCHES:
        assert used >= limit - 1
    if unit != "generations" and strategy in PLANNED:
        prompt = max(c.prompt_tokens for c in calls if c.role != "verifier")
        if strategy == "revisions":  # the attempt refused shows one attempt more
            prompt += MAX_TOKENS + SHOWN_FRAME
        one = prompt + MAX_TOKENS
        if charged and kind != "none":
            one += prompt + MAX_TOKENS + JUDGE_EXTRA_TOKENS
        assert used >= limit - one * (2.0 * PARAMS if unit == "flops" else 1)
