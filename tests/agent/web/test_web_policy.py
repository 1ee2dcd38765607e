"""The web agent's compute-optimal steps go through agent.control.decide.decide with a web
policy file: the bundled prior, or one given with --policy; a MATH policy is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from worldplan.agent.control.difficulty import Estimate
from worldplan.agent.control.policy import DEFAULT_POLICY, Policy, PolicyEntry, PolicyError
from worldplan.agent.graph.budgets import StepCosts
from worldplan.agent.web.router import load_web_policy, make_router

COSTS = StepCosts(proposal=8, predict=16, judge=1)


def est(bin_: int | None) -> Estimate:
    return Estimate(bin_, None, "predicted", "agreement")


def test_bundled_prior_is_a_web_policy_of_routes() -> None:
    p = load_web_policy()
    assert p.domain == "web" and {e.strategy for e in p.entries} <= {"act", "revise", "branch"}
    assert "not fitted" in p.metadata["fitted_on"]


def test_routes_follow_the_policy_rows_for_bin_and_allowance(tmp_path: Path) -> None:
    rows = [PolicyEntry(None, 1, "act"), PolicyEntry(2, 1, "act"),
            PolicyEntry(None, 100, "revise", {"rounds": 1}),
            PolicyEntry(2, 100, "branch", {"width": 2, "depth": 1})]
    path = Policy(rows, domain="web").save(tmp_path / "web.json")
    c = make_router("compute-optimal", n=2, policy=str(path))
    small = c.decide(est(2), readable=2, tokens_left=500, allowance=50, costs=COSTS)
    assert small["route"] == "act"  # the row of budget 1: 50 < 100
    big = c.decide(est(2), readable=2, tokens_left=500, allowance=150, costs=COSTS)
    assert big["route"] == "branch" and big["params"]["width"] == 2
    assert "controller: bin 2" in big["reason"]
    unknown = c.decide(est(None), readable=2, tokens_left=500, allowance=150, costs=COSTS)
    assert unknown["route"] == "revise" and unknown["params"]["rounds"] == 1
    assert COSTS.revise(1, 1) <= 150  # the row's plan fits, so fit() kept it


def test_math_policy_is_refused_for_the_web_agent() -> None:
    with pytest.raises(PolicyError, match="not a web policy"):
        make_router("compute-optimal", policy=str(DEFAULT_POLICY))
