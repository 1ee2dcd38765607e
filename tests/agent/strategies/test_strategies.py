"""Strategies on a scripted model: hand-derived reference cases, and exact accounting."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session, func, select

from tests.fakes.math_llm import ScriptedLLM
from worldplan.agent.math.solvers import SOLVERS
from worldplan.agent.runs.math import MathRunConfig, solve_problem
from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.beam import beam_search
from worldplan.agent.strategies.best_of_n import best_of_n, plan_best_of_n, select_prefix
from worldplan.agent.strategies.lookahead import lookahead_search
from worldplan.agent.strategies.revisions import plan_revisions, revisions
from worldplan.envs.math.data import MathProblem
from worldplan.envs.math.grader import Grader
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import Episode, LLMCall, SearchNode
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.verifier import GenerativeVerifier


def make_ctx(fake: ScriptedLLM, budget: Budget, **kw: Any) -> SearchContext:
    client = LLMClient("http://fake", transport=fake.transport(), retries=0)
    return SearchContext(client, GenerativeVerifier(client), budget, seed=0, **kw)


def in_order(texts: list[str]) -> Any:
    it: Iterator[str] = iter(texts)
    return lambda _prompt, _body: next(it)


def boxed_score(table: dict[str, float]) -> Any:
    """P(yes) from the boxed answer in the solution being judged."""
    def judge(prompt: str) -> float:
        m = re.findall(r"\\boxed\{(\w+)\}", prompt)
        return table[m[-1]] if m else 0.5
    return judge


# ---- best-of-N: weighted vs majority vs naive (hand-derived) ------------------------------

SIX = ["\\boxed{5}", "\\boxed{5}", "\\boxed{5}", "\\boxed{7}", "\\boxed{7}", "\\boxed{9}"]
SCORES = {"5": 0.2, "7": 0.45, "9": 0.5}  # sums: 5 -> 0.6, 7 -> 0.9, 9 -> 0.5


@pytest.mark.parametrize("selection, budget, expected", [
    ("weighted", 12, "7"),  # largest summed score, though 5 is the most frequent
    ("majority", 6, "5"),  # most frequent; no verifier calls, so N = budget
    ("naive", 12, "9"),  # the single highest score
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
    assert plan_best_of_n(16, selection="weighted", verify_cost=1) == (8, True)
    assert plan_best_of_n(16, selection="majority", verify_cost=1) == (16, False)
    assert plan_best_of_n(1, selection="weighted", verify_cost=1) == (1, False)
    assert plan_best_of_n(3, selection="naive", verify_cost=1, n=1) == (1, True)
    fake = ScriptedLLM(in_order(SIX), boxed_score(SCORES))
    r = asyncio.run(best_of_n("Q?", make_ctx(fake, Budget(max_generations=12))))
    # prefixes of one run: 4 generations = 2 judged samples (5, 5); 12 = all six
    def pick(generations: int) -> str | None:
        node = select_prefix(r.candidates, generations, selection="weighted", verify_cost=1)
        return node.answer if node else None

    assert [pick(4), pick(12), pick(1)] == ["5", "7", "5"]


# ---- beam search keeps exactly the top N/M beams ------------------------------------------

def test_beam_keeps_exactly_the_top_beams() -> None:
    first = iter(["A0 step", "A1 step", "A2 step", "A3 step"])

    def solve(_prompt: str, body: dict[str, Any]) -> str:
        last = body["messages"][-1]
        if last["role"] == "assistant":  # a continuation: finish from this prefix
            return f"B after {last['content'].split()[0]} \\boxed{{1}}"
        return next(first) + "\n\nnever reached"

    step_score = {"A0": 0.1, "A1": 0.9, "A2": 0.5, "A3": 0.7}

    def judge(prompt: str) -> float:
        return 0.6 if "B after" in prompt else step_score[re.findall(r"A\d", prompt)[-1]]

    fake = ScriptedLLM(solve, judge)
    r = asyncio.run(beam_search("Q?", make_ctx(fake, Budget()), n_beams=4, width=2,
                                max_rounds=2))
    round0 = [n for n in r.nodes if n.info["round"] == 0]
    round1 = [n for n in r.nodes if n.info["round"] == 1]
    assert [n.text for n in round0] == ["A0 step", "A1 step", "A2 step", "A3 step"]
    kept = {n.key for n in round0 if n.info.get("kept")}
    assert kept == {round0[1].key, round0[3].key}  # scores 0.9 and 0.7
    parents = sorted(n.parent_key or "" for n in round1)
    assert parents == sorted([round0[1].key] * 2 + [round0[3].key] * 2)
    assert all(n.kind == "final" and n.answer == "1" for n in round1)
    assert {n.text for n in round1} == {"B after A1 \\boxed{1}", "B after A3 \\boxed{1}"}
    assert all(n.scores == [step_score[n.info["full_text"][:2]], 0.6] for n in round1)
    assert r.answer == "1" and r.solver.generations == 8 and r.verifier.generations == 8


def test_lookahead_scores_at_the_end_of_the_rollout() -> None:
    def solve(_prompt: str, body: dict[str, Any]) -> str:
        last = body["messages"][-1]
        if last["role"] != "assistant":
            return "First step\n\nrest"
        if body["temperature"] == 0.0:
            return "Greedy look\n\nrest"
        return "Then \\boxed{2}"

    seen: list[str] = []

    def judge(prompt: str) -> float:
        seen.append(prompt)
        return 0.8

    fake = ScriptedLLM(solve, judge)
    r = asyncio.run(lookahead_search("Q?", make_ctx(fake, Budget()), k=1, n_beams=2,
                                     width=2, max_rounds=2))
    rollouts = [n for n in r.nodes if n.kind == "rollout"]
    assert len(rollouts) == 2 and all(n.text == "Greedy look" for n in rollouts)
    partial_judged = [p for p in seen if "so far" in p]
    assert len(partial_judged) == 2 and all("Greedy look" in p for p in partial_judged)
    assert r.answer == "2"


# ---- revisions pool all attempts, and see the earlier ones --------------------------------

def test_revisions_vote_over_all_attempts() -> None:
    fake = ScriptedLLM(in_order(["\\boxed{3}", "\\boxed{4}", "\\boxed{4}"]),
                       boxed_score({"3": 0.9, "4": 0.3}))
    r = asyncio.run(revisions("Q?", make_ctx(fake, Budget(max_generations=6)), chains=1,
                              per_chain=3))
    assert [n.answer for n in r.candidates] == ["3", "4", "4"]
    assert r.answer == "3"  # 0.9 > 0.3 + 0.3: the first attempt wins although revised away
    assert [n.parent_key for n in r.nodes] == [None, r.nodes[0].key, r.nodes[1].key]
    solver_prompts = [b["messages"][-1]["content"] for b in fake.requests
                      if b.get("max_tokens") != 1]
    assert "Attempt" not in solver_prompts[0]
    assert "Attempt 1 (a checker rates it 90% likely correct)" in solver_prompts[1]
    assert "Attempt 2 (a checker rates it 30% likely correct)" in solver_prompts[2]


def test_revision_plans() -> None:
    assert plan_revisions(16, verify_cost=1, chains=None, per_chain=4) == ([4, 4], True)
    assert plan_revisions(10, verify_cost=1, chains=2, per_chain=4) == ([3, 2], True)
    assert plan_revisions(1, verify_cost=1, chains=None, per_chain=4) == ([1], False)
    assert plan_revisions(0, verify_cost=1, chains=None, per_chain=4) == ([], False)


# ---- every strategy: accounting = served = trace DB, and within budget --------------------

def generic_solve(_prompt: str, body: dict[str, Any]) -> str:
    last = body["messages"][-1]
    done = last["content"].count("\n\n") if last["role"] == "assistant" else 0
    steps = ["Let x be the number we want", "Then x plus x is four so",
             f"x is \\boxed{{{2 + body.get('seed', 0) % 2}}}"]
    return "\n\n".join(steps[done:])


BUDGETS = [Budget(max_generations=1), Budget(max_generations=5), Budget(max_generations=16),
           Budget(max_tokens=30), Budget(max_tokens=120), Budget(max_generations=9, max_tokens=70)]


@pytest.mark.parametrize("budget", BUDGETS, ids=lambda b: f"g{b.max_generations}-t{b.max_tokens}")
@pytest.mark.parametrize("strategy", list(SOLVERS))
def test_accounting_matches_server_and_db(strategy: str, budget: Budget, tmp_path: Any,
                                          grader: Grader) -> None:
    fake = ScriptedLLM(generic_solve, boxed_score({"2": 0.7, "3": 0.4}))
    store = TraceStore(make_engine(f"sqlite:///{tmp_path}/t.db"))
    run_id = store.start_run(kind="math", strategy=strategy)
    client = LLMClient("http://fake", transport=fake.transport(), retries=0,
                       observers=[store.observer(run_id)], n_params=1000)
    config = MathRunConfig(strategy=strategy, budget_generations=budget.max_generations,
                           budget_tokens=budget.max_tokens, max_tokens=24, step_max_tokens=10)
    problem = MathProblem("u1", "What is x if x + x = 4?", "2", 1, "Algebra")
    outcome = asyncio.run(solve_problem(config, problem, 0, run_id, client,
                                        GenerativeVerifier(client), store, grader))
    with Session(store.engine) as s:
        ep = s.exec(select(Episode)).one()
        calls = s.exec(select(func.count(LLMCall.id),  # type: ignore[arg-type]
                              func.sum(LLMCall.completion_tokens),
                              func.sum(LLMCall.prompt_tokens), func.sum(LLMCall.n))).one()
        n_nodes = s.exec(select(func.count(SearchNode.id))).one()  # type: ignore[arg-type]
    solver, verifier, spent = ep.info["solver"], ep.info["verifier"], ep.info["budget"]
    served_completion = sum(u["completion_tokens"] for u in fake.served)
    served_prompt = sum(u["prompt_tokens"] for u in fake.served)
    # the server's figures == the strategy's result == the trace DB == the budget's charge
    assert served_completion == solver["completion_tokens"] + verifier["completion_tokens"]
    assert served_completion == calls[1] == ep.completion_tokens == spent["spent_tokens"]
    assert served_prompt == solver["prompt_tokens"] + verifier["prompt_tokens"] == calls[2]
    assert len(fake.served) == solver["calls"] + verifier["calls"] == calls[0]
    assert calls[3] == solver["generations"] + verifier["generations"]
    assert calls[3] == ep.generations == spent["spent_generations"] == outcome.generations
    assert ep.flops == pytest.approx(2 * 1000 * (served_completion + served_prompt))
    assert n_nodes == ep.info["nodes"] >= 1
    # never over budget, and something was always tried
    if budget.max_generations is not None:
        assert spent["spent_generations"] <= budget.max_generations
    if budget.max_tokens is not None:
        assert spent["spent_tokens"] <= budget.max_tokens
    assert solver["generations"] >= 1


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
        return next(s for t, s in sorted(scores.items(), key=lambda x: -len(x[0]))
                    if t in prompt)

    results = {}
    for within in ("best", "all"):
        asked.update({0: 0, 1: 0})
        fake = ScriptedLLM(solve, judge)
        results[within] = asyncio.run(revisions(
            "Q?", make_ctx(fake, Budget(max_generations=8)), chains=2, per_chain=2,
            within=within))
    assert sorted(n.answer or "" for n in results["best"].candidates) == ["5", "5", "7", "7"]
    assert results["all"].answer == "5"
    assert results["best"].answer == "7"


def test_revision_ratio_splits_sequential_and_parallel() -> None:
    # 16 attempts: ratio 1 -> 4 chains of 4; ratio 16 -> 1 chain of 16; ratio 1/4 -> 8 of 2
    assert plan_revisions(32, verify_cost=1, chains=None, per_chain=4, ratio=1)[0] == [4] * 4
    assert plan_revisions(32, verify_cost=1, chains=None, per_chain=4, ratio=16)[0] == [16]
    assert plan_revisions(32, verify_cost=1, chains=None, per_chain=4, ratio=0.25)[0] == [2] * 8
