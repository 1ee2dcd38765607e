"""The web router's plans: cut to the step's allowance, and acting when nothing is readable
(pure functions, no model)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from worldplan.agent.graph.budgets import StepCosts, step_allowance
from worldplan.agent.graph.state import StepDecision
from worldplan.agent.web.plans import BranchPlan, RevisePlan, kept_roots
from worldplan.agent.web.router import fit, make_router


def test_plans_are_cut_to_the_allowance() -> None:
    costs = StepCosts(proposal=10, predict=20, judge=1)
    assert costs.branch(3, 2, 2, 1) == 3 * 21 + 2 * (30 + 63)
    route, p, why = fit("branch", BranchPlan(width=3, depth=2, beam=2, samples=1), 100,
                        costs, readable=3)
    assert isinstance(p, BranchPlan)
    assert route == "branch" and p.depth == 1 and p.width == 3 and "cut" in why
    assert fit("branch", BranchPlan(width=3, depth=1, beam=2, samples=1), 25, costs,
               3)[:2] == ("branch", BranchPlan(width=1, depth=1, beam=2, samples=1))
    assert fit("revise", RevisePlan(rounds=2, samples=1), 60, costs, 1)[:2] == (
        "revise", RevisePlan(rounds=1, samples=1))
    assert fit("revise", RevisePlan(rounds=2, samples=1), 20, costs, 1)[0] == "act"
    assert fit("branch", BranchPlan(width=2, depth=1, beam=2, samples=1), 20, costs,
               2)[0] == "act"  # not even one imagined state fits: act
    assert step_allowance(300, 10) == 100 and step_allowance(None, 3) is None


def test_roots_predicted_without_a_call_cost_their_judgements_only() -> None:
    costs = StepCosts(proposal=10, predict=20, judge=1)
    assert costs.roots(5, 1, free=3) == 5 * 1 + 2 * 20
    assert costs.roots(5, 2, free=9) == 2 * 5 * 1  # more free than roots: none priced
    assert costs.branch(3, 2, 2, 1, free=3) == 3 + 2 * (30 + 63)  # deeper levels are asked
    assert costs.mcts(3, 2, 1, free=1) == 3 + 2 * 20 + 2 * (30 + 21)
    plan = BranchPlan(width=11, depth=1, samples=1)
    assert fit("branch", plan, 11 + 2 * 20, costs, 11, free=9)[1] == plan  # 2 calls fit
    assert fit("branch", plan, 11 + 2 * 20, costs, 11)[1] == replace(plan, width=2)
    # one call fits: the 9 free roots and one priced one
    assert fit("branch", plan, 10 + 20, costs, 11, free=9)[1] == replace(plan, width=10)
    roots = [("a", "fill"), ("b", "click1"), ("c", "check"), ("d", "click2")]
    assert kept_roots(roots, 3, {"fill", "check"}) == roots[:3]
    assert kept_roots(roots, 2, {"check"}) == [roots[0], roots[2]]  # order kept
    assert kept_roots(roots, 9, set()) == roots and kept_roots(roots, 0, {"fill"}) == []


def test_controller_acts_without_readable_proposals() -> None:
    d: StepDecision = make_router("search").decide(None, readable=0, tokens_left=500,
                                                   allowance=500,
                                                   costs=StepCosts(10, 20, 1))
    assert d["route"] == "act" and "no readable proposal" in d["reason"]
    with pytest.raises(KeyError):
        make_router("mcts")
