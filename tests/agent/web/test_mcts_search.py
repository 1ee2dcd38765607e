"""MCTS over imagined pages (agent.web.mcts) in the scripted toy world of imagined_toy
(control flow only): depth 3 over imagined pages, values decide what is expanded,
duplicates are imagined once, transpositions are evaluated once, unappliable predictions
score 0 and are never expanded, budgets end the search cleanly and are never overspent."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from tests.agent.web.imagined_toy import (
    JUDGE,
    PREDICT,
    PROPOSAL,
    REAL,
    Toy,
    check,
    items_of,
    keys,
    roots,
)
from worldplan.agent.graph.budgets import StepCosts
from worldplan.agent.graph.tree import SearchOutcome
from worldplan.agent.web.imagination import (
    Proposed,
    imagined_beam_search,
    propose_imagined,
    revise_plan,
)
from worldplan.agent.web.mcts import TreeState, mcts_search, most_visited, select
from worldplan.worldmodel.llm.accounting import Budget


def fresh(path: tuple[str, ...], n: int) -> list[str]:
    """Two new items per state, named by the state's depth and its last item."""
    tag = (path[-1][7:-2] if path else "r") + str(len(path))
    return [check(f"{tag}x"), check(f"{tag}y")][:n]


def run(toy: Toy, root_actions: list[str], budget: Budget | None = None,
        **kw: Any) -> SearchOutcome:
    return asyncio.run(mcts_search(toy.imagination(), roots(*root_actions), keys(),
                                   budget or Budget(), **kw))


def states(out: SearchOutcome) -> list[dict[str, Any]]:
    return [n for n in out.nodes if n["kind"] == "imagined_state"]


def proposed_from(out: SearchOutcome, key: str) -> list[dict[str, Any]]:
    return [n for n in out.nodes if n["kind"] == "proposal" and n["parent_key"] == key]


def test_default_depth_is_three_over_imagined_pages() -> None:
    toy = Toy(fresh, lambda p: 0.5)
    out = run(toy, [check("a"), check("b")], simulations=8, width=2)
    depths = Counter(n["depth"] for n in states(out))
    assert max(depths) == 3 and depths[3] >= 1
    chosen = next(n for n in out.nodes if n["key"] == out.key)
    assert chosen["info"]["mcts_search"]["depth_reached"] == 3
    for n in states(out):
        if n["depth"] == 3:
            assert proposed_from(out, n["key"]) == []  # a leaf: never proposed from
    # deeper steps are imagined against the imagined page, which already shows the path
    wm = [(path, obs) for role, path, obs in toy.calls if role == "world_model"]
    assert any(len(path) == 3 for path, _ in wm)
    assert all(len(items_of(obs)) == len(path) - 1 for path, obs in wm)
    assert all(obs != REAL for path, obs in wm if len(path) > 1)
    props = [(path, obs) for role, path, obs in toy.calls if role == "proposer"]
    assert props and all(len(items_of(obs)) == len(path) for path, obs in props)


def test_without_pages_the_path_is_passed_along() -> None:
    toy = Toy(fresh, lambda p: 0.5, pages=False)
    out = run(toy, [check("a"), check("b")], simulations=8, width=2)
    assert max(n["depth"] for n in states(out)) == 3
    assert all(obs == REAL for role, _, obs in toy.calls)  # real page + imagined path


@pytest.mark.parametrize("good", ["a", "b", None])
def test_values_decide_which_candidates_are_expanded(good: str | None) -> None:
    """A uniform (breadth-first) expansion deepens both roots; MCTS deepens only the one
    whose imagined states score high, and visits it more. With equal values both grow."""
    def value(path: tuple[str, ...]) -> float:
        return 0.5 if good is None else (0.9 if path[0] == check(good) else 0.1)

    out = run(Toy(fresh, value), [check("a"), check("b")], simulations=6, width=2)
    roots_ = {n["answer"]: n for n in states(out) if n["depth"] == 1}
    deep_under = {n["info"]["path"][0] for n in states(out) if n["depth"] >= 2}
    if good is None:
        assert deep_under == {check("a"), check("b")}
        return
    bad = check("b" if good == "a" else "a")
    assert deep_under == {check(good)}
    assert proposed_from(out, roots_[bad]["key"]) == []
    assert roots_[check(good)]["info"]["visits"] > roots_[bad]["info"]["visits"]
    assert out.action == check(good)


def test_a_deeper_choice_follows_value_not_proposal_order() -> None:
    """Below the root, 'lo' is proposed first but 'hi' scores higher: only 'hi' is deepened."""
    def propose(path: tuple[str, ...], n: int) -> list[str]:
        return [check("lo"), check("hi")] if len(path) == 1 else fresh(path, n)

    def value(path: tuple[str, ...]) -> float:
        if len(path) == 1:
            return 0.6 if path[0] == check("a") else 0.2
        return 0.9 if path[1] == check("hi") else 0.3

    out = run(Toy(propose, value), [check("a"), check("b")], simulations=6, width=2)
    third = [n for n in states(out) if n["depth"] == 3]
    assert third and all(n["info"]["path"][1] == check("hi") for n in third)
    second = {n["answer"]: n for n in states(out) if n["depth"] == 2}
    assert proposed_from(out, second[check("lo")]["key"]) == []
    assert second[check("hi")]["info"]["visits"] > second[check("lo")]["info"]["visits"]


def test_duplicate_proposals_are_imagined_once_and_raise_the_prior() -> None:
    toy = Toy(lambda path, n: [check("x"), check("x"), check("y")][:n], lambda p: 0.5)
    out = run(toy, [check("a")], simulations=6, width=3)
    imagined = toy.imagined()
    assert len(imagined) == len(set(imagined))  # each (state, action) imagined once
    dups = [n for n in out.nodes if n["kind"] == "proposal" and "duplicate_of" in n["info"]]
    assert dups
    first = next(n for n in out.nodes if n["key"] == dups[0]["info"]["duplicate_of"])
    other = next(n for n in proposed_from(out, first["parent_key"])
                 if n["answer"] == check("y"))
    assert first["info"]["count"] == 2 and first["info"]["prior"] > other["info"]["prior"]
    # the candidates themselves are distinct, and beam search imagines each once too
    nodes: list[dict[str, Any]] = []
    got = asyncio.run(propose_imagined(toy.imagination(), keys(), "w", [], 3, 1, Budget(),
                                       nodes))
    assert got is not None and [p.action for p in got] == [check("x"), check("y")]
    assert len(nodes) == 3 and got[0].prior == pytest.approx(0.75 * 2 / 3 + 0.25 / 2)
    toy.calls.clear()
    asyncio.run(imagined_beam_search(toy.imagination(), roots(check("a")), keys(), Budget(),
                                     depth=3, beam=2, width=3))
    imagined = toy.imagined()
    assert len(imagined) == len(set(imagined)) == 1 + 2 + 4


def transposing(path: tuple[str, ...], n: int) -> list[str]:
    """From a: b; from b: a (both reach {a, b}); deeper: new items."""
    if len(path) == 1:
        return [check("b" if path[0] == check("a") else "a")]
    return fresh(path, n)


def test_a_transposition_is_evaluated_once_and_counted() -> None:
    toy = Toy(transposing, lambda p: 0.5)
    out = run(toy, [check("a"), check("b")], simulations=6, width=1)
    judged = toy.judged()
    assert (check("a"), check("b")) in judged and (check("b"), check("a")) not in judged
    both = [n for n in states(out) if n["depth"] == 2]
    assert len(both) == 1  # one evaluated state for {a, b}
    [t] = [n for n in out.nodes if n["kind"] == "transposition"]
    assert t["info"]["transposition_of"] == both[0]["key"]
    assert t["info"]["path"] == [check("b"), check("a")]
    assert both[0]["info"]["transpositions"] == 1
    chosen = next(n for n in out.nodes if n["key"] == out.key)
    assert chosen["info"]["mcts_search"]["transposition_hits"] == 1
    # the shared state is proposed from once, whichever path reaches it
    from_both = [obs for role, _, obs in toy.calls
                 if role == "proposer" and sorted(items_of(obs)) == ["a", "b"]]
    assert len(from_both) <= 1


def test_without_pages_two_orders_are_two_states() -> None:
    toy = Toy(transposing, lambda p: 0.5, pages=False)
    out = run(toy, [check("a"), check("b")], simulations=6, width=1)
    judged = toy.judged()
    assert (check("a"), check("b")) in judged and (check("b"), check("a")) in judged
    assert not [n for n in out.nodes if n["kind"] == "transposition"]


def test_an_unappliable_prediction_scores_zero_unjudged_and_is_never_expanded() -> None:
    toy = Toy(fresh, lambda p: 0.99 if p[0] == check("bad") else 0.5,
              broken=frozenset({check("bad")}))
    out = run(toy, [check("bad"), check("ok")], simulations=8, width=2)
    bad = next(n for n in states(out) if n["answer"] == check("bad"))
    assert bad["score"] == 0.0 and bad["info"]["error"] == "no such element"
    assert all(p[0] != check("bad") for p in toy.judged())  # no verifier call
    assert proposed_from(out, bad["key"]) == []
    assert out.action == check("ok")


def test_a_sample_that_cannot_be_applied_counts_as_zero() -> None:
    toy = Toy(fresh, lambda p: 0.8, half_broken=frozenset({check("h")}))
    out = run(toy, [check("h")], simulations=0, samples=2)
    [h] = states(out)
    assert h["scores"] == [0.0, 0.8] and h["score"] == pytest.approx(0.4)
    assert "error" not in h["info"] and h["info"]["errors"][0] == "no such element"
    assert toy.judged() == [(check("h"),)]  # only the applicable sample is judged


def test_choice_and_selection_rules_by_hand() -> None:
    s = TreeState("s", [], "", 0.5, 0, visits=4, value=2.0,
                  candidates=[Proposed("p0", "a", 0.5), Proposed("p1", "b", 0.5)])
    s.children["a"] = TreeState("a", [("a", "")], "", 0.2, 1, visits=3, value=0.6)
    # a: 0.2 + 0.5 * 2 / 4 = 0.45; b unexpanded: 0.5 + 0.5 * 2 / 1 = 1.5
    assert select(s, 1.0).action == "b"
    s.candidates = [Proposed("p0", "a", 0.9), Proposed("p1", "b", 0.1)]
    s.children["a"] = TreeState("a", [("a", "")], "", 0.9, 1, visits=1, value=0.9)
    # a: 0.9 + 0.9 * 2 / 2 = 1.8; b: 0.5 + 0.1 * 2 = 0.7
    assert select(s, 1.0).action == "a"
    s.children["b"] = TreeState("b", [("b", "")], "", 0.9, 1, visits=1, value=0.9)
    best = most_visited(s)
    assert best is not None and best[0].action == "a"  # a tie: the first proposed
    s.children["b"].value = 0.95
    best = most_visited(s)
    assert best is not None and best[0].action == "b"  # equal visits: the higher mean
    s.children["a"].visits, s.children["a"].value = 2, 1.0
    best = most_visited(s)
    assert best is not None and best[0].action == "a"  # the most visits wins


def test_a_budget_that_runs_out_ends_the_search_cleanly() -> None:
    full = Budget(count_prompts=False)
    run(Toy(fresh, lambda p: 0.5), [check("a"), check("b")], full, simulations=10, width=2)
    total = full.spent_tokens
    assert total > 0
    for limit in range(0, total, 3):
        toy = Toy(fresh, lambda p: 0.5)
        b = Budget(max_tokens=limit, count_prompts=False)
        out = run(toy, [check("a"), check("b")], b, simulations=10, width=2)
        assert out.stop_reason == "budget", limit
        assert b.spent_tokens <= limit and b.reserved_tokens == 0
        keys_ = {n["key"] for n in out.nodes} | {k for k, _ in roots(check("a"), check("b"))}
        assert all(n["parent_key"] in keys_ for n in out.nodes)
        assert out.action in (None, check("a"), check("b"))


def test_predictions_the_budget_stops_before_judging_stay_in_the_trace() -> None:
    """A budget that pays for one imagined change but not its judgement: the change is
    recorded as an unjudged node, and every world-model sample charged has its node."""
    toy = Toy(fresh, lambda p: 0.5)
    b = Budget(max_tokens=PREDICT, count_prompts=False)  # one prediction, no verdict
    out = run(toy, [check("a")], b, simulations=2, width=1)
    assert out.stop_reason == "budget" and out.action is None
    [u] = [n for n in out.nodes if n["kind"] == "unjudged"]
    assert u["answer"] == check("a") and u["info"]["stopped"] == "budget"
    assert u["tokens"] == PREDICT == b.spent_tokens
    assert [r for r, _, _ in toy.calls] == ["world_model"]


@pytest.mark.parametrize("width,simulations,samples,depth", [
    (1, 4, 1, 3), (2, 6, 1, 3), (3, 8, 2, 4), (2, 12, 3, 3)])
def test_spending_stays_within_the_plans_worst_case(width: int, simulations: int,
                                                    samples: int, depth: int) -> None:
    b = Budget(count_prompts=False)
    out = run(Toy(fresh, lambda p: len(p) / 4), [check(f"r{i}") for i in range(width)], b,
              simulations=simulations, width=width, samples=samples, depth=depth)
    assert out.stop_reason == "done"
    bound = StepCosts(PROPOSAL, PREDICT, JUDGE).mcts(width, simulations, samples)
    assert 0 < b.spent_tokens <= bound


def test_beam_search_and_revise_imagine_over_pages() -> None:
    toy = Toy(fresh, lambda p: len(p) / 4)
    out = asyncio.run(imagined_beam_search(toy.imagination(), roots(check("a"), check("b")),
                                           keys(), Budget(), depth=3, beam=1, width=2))
    assert out.action is not None and max(n["depth"] for n in out.nodes) == 3
    wm = [(path, obs) for role, path, obs in toy.calls if role == "world_model"]
    assert all(len(items_of(obs)) == len(path) - 1 for path, obs in wm)
    toy = Toy(lambda path, n: [check("ok")] * n, lambda p: 0.9,
              broken=frozenset({check("bad")}))
    out = asyncio.run(revise_plan(toy.imagination(), ("s0.c0", check("bad")), keys(),
                                  Budget(), rounds=1))
    assert out.action == check("ok") and out.score == pytest.approx(0.9)


def test_leaves_are_the_depth_errors_finished_tasks_and_dead_ends() -> None:
    def leaf(**kw: Any) -> bool:
        base: dict[str, Any] = {"key": "k", "path": [("click('e1')", "")], "page": "",
                                "score": 0.5, "depth": 1}
        return TreeState(**{**base, **kw}).leaf(3)

    assert not leaf()
    assert leaf(depth=3) and leaf(error="no such element") and leaf(candidates=[])
    assert leaf(path=[("stop('done')", "")])


class SlowFirst(Toy):
    """The first root action's prediction comes back last, so the second root action's
    state enters the transposition table first."""

    async def predict(self, obs: str, action: str, **kw: Any) -> Any:
        if action == check("a"):
            await asyncio.sleep(0.01)
        return await super().predict(obs, action, **kw)


def test_a_root_action_that_transposes_is_chosen_with_its_own_node() -> None:
    same = check("a") + " "  # ticks the same item: the same imagined page
    toy = SlowFirst(lambda path, n: [], lambda p: 0.5)
    out = run(toy, [check("a"), same], simulations=0, width=1)
    # equal visits and value (one shared state): the first proposed root is chosen
    assert out.action == check("a")
    [t] = [n for n in out.nodes if n["kind"] == "transposition"]
    assert t["answer"] == check("a")  # its state was reached first by the other action
    chosen = next(n for n in out.nodes if n["key"] == out.key)
    assert chosen is t and chosen["answer"] == out.action
