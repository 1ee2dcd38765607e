"""Sequential revisions on a scripted model: earlier attempts shown, the best of each chain
then a vote across chains, the plan's split, and a token budget used to one attempt."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.agent.strategies.scripted import boxed_score, in_order, make_ctx
from tests.fakes.math_llm import ScriptedLLM
from worldplan.agent.strategies.revisions import plan_revisions, revisions
from worldplan.worldmodel.llm.accounting import Budget


def test_revisions_see_earlier_attempts_and_their_scores() -> None:
    fake = ScriptedLLM(in_order(["\\boxed{3}", "\\boxed{4}", "\\boxed{4}"]),
                       boxed_score({"3": 0.9, "4": 0.3}))
    r = asyncio.run(revisions("Q?", make_ctx(fake, Budget(max_generations=3)), chains=1,
                              per_chain=3, within="all"))
    assert [n.answer for n in r.candidates] == ["3", "4", "4"]
    assert r.answer == "3"  # 0.9 > 0.3 + 0.3: the first attempt wins although revised away
    assert [n.parent_key for n in r.nodes] == [None, r.nodes[0].key, r.nodes[1].key]
    solver_prompts = [b["messages"][-1]["content"] for b in fake.requests
                      if b.get("max_tokens") != 1]
    assert "Attempt" not in solver_prompts[0]
    assert "Attempt 1 (a checker rates it 90% likely correct)" in solver_prompts[1]
    assert "Attempt 2 (a checker rates it 30% likely correct)" in solver_prompts[2]


def test_revision_plans() -> None:
    assert plan_revisions(8, chains=None, per_chain=4) == [4, 4]
    assert plan_revisions(5, chains=2, per_chain=4) == [3, 2]
    assert plan_revisions(0, chains=None, per_chain=4) == []
    # 16 attempts: ratio 1 -> 4 chains of 4; ratio 16 -> 1 chain of 16; ratio 1/4 -> 8 of 2
    assert plan_revisions(16, chains=None, per_chain=4, ratio=1) == [4] * 4
    assert plan_revisions(16, chains=None, per_chain=4, ratio=16) == [16]
    assert plan_revisions(16, chains=None, per_chain=4, ratio=0.25) == [2] * 8


@pytest.mark.parametrize("charged, attempts", [(False, 8), (True, 4)])
def test_attempts_per_budget(charged: bool, attempts: int) -> None:
    fake = ScriptedLLM(lambda _p, _b: "\\boxed{1}", lambda _p: 0.5)
    r = asyncio.run(revisions("Q?", make_ctx(fake, Budget(max_generations=8),
                                             verifier_charged=charged)))
    assert r.params["attempts"] == attempts and r.charged.generations == 8


def test_revisions_take_the_best_of_each_chain_then_vote_across_chains() -> None:
    """Chain 0 says 5 (0.6), then 5 (0.5); chain 1 says 7 (0.9), then 7 (0.1). Over all
    attempts 5 wins (1.1 to 1.0); the paper's way, each chain's best goes to the vote, and
    7 (0.9) beats 5 (0.6)."""
    texts = {0: ["\\boxed{5}", "\\boxed{5} again"], 1: ["\\boxed{7}", "\\boxed{7} again"]}
    scores = {"\\boxed{5}": 0.6, "\\boxed{5} again": 0.5, "\\boxed{7}": 0.9,
              "\\boxed{7} again": 0.1}
    asked = {0: 0, 1: 0}

    def solve(prompt: str, _body: dict[str, Any]) -> str:
        chain = 1 if "7" in prompt else 0 if "5" in prompt else len([a for a in asked.values()
                                                                     if a]) % 2
        text = texts[chain][asked[chain]]
        asked[chain] += 1
        return text

    def judge(prompt: str) -> float:
        solution = prompt.split("Problem:")[-1]
        return next(s for t, s in sorted(scores.items(), key=lambda x: -len(x[0]))
                    if t in solution.split("Check your")[0].split("Attempt")[-1])

    results = {}
    for within in ("best", "all"):
        asked.update({0: 0, 1: 0})
        fake = ScriptedLLM(solve, judge)
        results[within] = asyncio.run(revisions(
            "Q?", make_ctx(fake, Budget(max_generations=4)), chains=2, per_chain=2,
            within=within))
    # the vote is over each chain's best (5 at 0.6, 7 at 0.9): those are the candidates
    assert sorted((n.answer or "", n.score) for n in results["best"].candidates) == [
        ("5", 0.6), ("7", 0.9)]
    assert len(results["best"].nodes) == len(results["all"].candidates) == 4
    assert results["all"].answer == "5"
    assert results["best"].answer == "7"


def test_a_token_budget_runs_rounds_until_one_more_attempt_does_not_fit() -> None:
    fake = ScriptedLLM(lambda _p, _b: "so \\boxed{1}", lambda _p: 0.5, cache=True)
    budget = Budget(max_tokens=600)
    r = asyncio.run(revisions("Q?", make_ctx(fake, budget, max_tokens=24), chains=2))
    biggest = max(u["prompt_tokens"] for u in fake.served) + 24
    assert 600 - biggest <= budget.spent_tokens <= 600
    assert r.params["attempts"] > 2 and r.params["chains"] == 2
