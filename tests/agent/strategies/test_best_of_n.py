"""Best-of-N on a scripted model: hand-derived selections, its plan, n-sample requests, and
token budgets used in waves to within one sample."""

from __future__ import annotations

import asyncio

import pytest

from tests.agent.strategies.scripted import boxed_score, in_order, make_ctx, solver_requests
from tests.fakes.math_llm import ScriptedLLM
from worldplan.agent.strategies.base import JUDGE_EXTRA_TOKENS, SearchContext
from worldplan.agent.strategies.best_of_n import best_of_n, plan_best_of_n, select_prefix
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.verifier import PRMVerifier

# ---- best-of-N: weighted vs majority vs naive (hand-derived) ------------------------------

SIX = ["\\boxed{5}", "\\boxed{5}", "\\boxed{5}", "\\boxed{7}", "\\boxed{7}", "\\boxed{9}"]
SCORES = {"5": 0.2, "7": 0.45, "9": 0.5}  # sums: 5 -> 0.6, 7 -> 0.9, 9 -> 0.5


@pytest.mark.parametrize("selection, budget, expected", [
    ("weighted", 6, "7"),  # largest summed score, though 5 is the most frequent
    ("majority", 6, "5"),  # most frequent; no verifier calls
    ("naive", 6, "9"),  # the single highest score
])
def test_best_of_n_selection(selection: str, budget: int, expected: str) -> None:
    fake = ScriptedLLM(in_order(SIX), boxed_score(SCORES))
    ctx = make_ctx(fake, Budget(max_generations=budget))
    r = asyncio.run(best_of_n("Q?", ctx, selection=selection))
    assert r.answer == expected
    assert len(r.candidates) == 6
    assert r.verifier.calls == (0 if selection == "majority" else 6)
    assert sum(n.chosen for n in r.nodes) == 1


def test_best_of_n_plan_and_prefixes() -> None:
    assert plan_best_of_n(16, selection="weighted", judge_cost=0) == (16, True)  # the paper
    assert plan_best_of_n(16, selection="weighted", judge_cost=1) == (8, True)
    assert plan_best_of_n(16, selection="majority", judge_cost=1) == (16, False)
    assert plan_best_of_n(1, selection="weighted", judge_cost=1) == (1, False)
    assert plan_best_of_n(3, selection="naive", judge_cost=1, n=1) == (1, True)
    fake = ScriptedLLM(in_order(SIX), boxed_score(SCORES))
    r = asyncio.run(best_of_n("Q?", make_ctx(fake, Budget(max_generations=6))))
    # prefixes of one run: 2 generations = 2 judged samples (5, 5); 6 = all six
    def pick(generations: int, judge_cost: int = 0) -> str | None:
        node = select_prefix(r.candidates, generations, selection="weighted",
                             judge_cost=judge_cost)
        return node.answer if node else None

    assert [pick(2), pick(6), pick(12, 1), pick(1, 1)] == ["5", "7", "7", "5"]


def test_samples_of_one_prompt_go_out_in_one_request() -> None:
    fake = ScriptedLLM(in_order(SIX), boxed_score(SCORES))
    r = asyncio.run(best_of_n("Q?", make_ctx(fake, Budget(max_generations=6))))
    assert [b["n"] for b in solver_requests(fake)] == [6]
    assert r.solver.calls == 1 and r.solver.generations == r.solver.samples == 6
    assert r.verifier.generations == 0 and r.verifier.calls == 6  # free, as in the paper


@pytest.mark.parametrize("charged", [False, True])
def test_a_token_budget_is_used_in_waves_to_within_one_sample(charged: bool) -> None:
    """Each wave samples what fits at the worst case; what a wave did not use comes back,
    so waves go on until not one more sample (and its judgement, if charged) fits."""
    fake = ScriptedLLM(lambda _p, _b: "x is \\boxed{2}", lambda _p: 0.7, cache=True)
    budget = Budget(max_tokens=400)
    ctx = make_ctx(fake, budget, max_tokens=24, verifier_charged=charged)
    r = asyncio.run(best_of_n("What is x?", ctx))
    prompt = max(b for b in (u["prompt_tokens"] for u in fake.served))
    one = prompt + 24 + ((prompt + 24 + JUDGE_EXTRA_TOKENS) if charged else 0)
    assert budget.spent_tokens <= 400
    assert budget.spent_tokens >= 400 - one
    assert len(solver_requests(fake)) >= 2  # more than one wave
    assert budget.spent_tokens == (r.total if charged else r.solver).tokens


@pytest.mark.parametrize("aggregation, expected", [("last", "1"), ("min", "2"), ("prod", "2")])
def test_a_prm_scores_every_step_and_the_aggregation_decides(aggregation: str,
                                                             expected: str) -> None:
    """Solution 1 ends well after a bad step; solution 2 is middling throughout. The PRM
    scores each step (the scripted one by the step's last word), so `last` prefers 1 and
    `min` and `prod` prefer 2."""
    texts = ["step good\n\nstep bad\n\nso \\boxed{1}", "step ok\n\nstep ok\n\nso \\boxed{2}"]
    step_score = {"good": 0.9, "bad": 0.1, "ok": 0.6, "\\boxed{1}": 0.95, "\\boxed{2}": 0.7}
    fake = ScriptedLLM(in_order(texts), lambda prompt: step_score[prompt.split()[-1]])
    client = LLMClient("http://fake", transport=fake.transport(), retries=0)
    ctx = SearchContext(client, PRMVerifier(client), Budget(max_generations=2),
                        aggregation=aggregation)
    r = asyncio.run(best_of_n("Q?", ctx, selection="naive"))
    assert [len(n.scores) for n in r.candidates] == [3, 3]
    assert r.answer == expected
    assert r.verifier.calls == 2 and r.verifier.samples == 0  # /pooling generates nothing
