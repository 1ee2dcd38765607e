"""The web router's plans: cut to the step's allowance, and acting when nothing is readable
(pure functions, no model)."""

from __future__ import annotations

import pytest

from worldplan.agent.graph.budgets import StepCosts, step_allowance
from worldplan.agent.graph.state import StepDecision
from worldplan.agent.web.plans import BranchPlan, RevisePlan
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


def test_controller_acts_without_readable_proposals() -> None:
    d: StepDecision = make_router("search").decide(None, readable=0, tokens_left=500,
                                                   allowance=500,
                                                   costs=StepCosts(10, 20, 1))
    assert d["route"] == "act" and "no readable proposal" in d["reason"]
    with pytest.raises(KeyError):
        make_router("mcts")
