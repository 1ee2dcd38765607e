"""The controller is a pure function of (difficulty, budget, policy): rules and purity."""

from __future__ import annotations

import ast
import copy
import socket
from pathlib import Path

import pytest

from tests.agent.control.policies import table_policy
from worldplan.agent.control.decide import Decision, decide, policy_budget


def test_picks_the_row_of_the_bin_at_the_largest_fitting_budget() -> None:
    p = table_policy()
    d = decide(1, 16, p)
    assert (d.strategy, d.params, d.bin, d.policy_budget) == ("best_of_n", {}, 1, 16)
    d = decide(4, 20, p)  # 20 is not a policy budget: plan with 16, never more
    assert (d.strategy, d.params, d.policy_budget, d.budget) == (
        "beam", {"n_beams": 4, "width": 2}, 16, 20)
    d = decide(4, 15, p)
    assert (d.strategy, d.policy_budget) == ("revisions", 4)
    assert "bin 4" in d.reason and "policy row 4" in d.reason


def test_unknown_difficulty_uses_the_bin_free_row() -> None:
    d = decide(None, 16, table_policy())
    assert (d.strategy, d.bin) == ("best_of_n", None)
    assert "difficulty unknown" in d.reason


def test_budget_below_the_smallest_and_unlimited() -> None:
    assert policy_budget(2, [4, 16]) == 4
    assert policy_budget(None, [4, 16]) == 16
    assert decide(3, None, table_policy()).strategy == "beam"


def test_bad_bin_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="bin must be 1..5"):
        decide(7, 16, table_policy())


def test_decision_is_plain_data() -> None:
    d = decide(2, 16, table_policy())
    assert Decision(**d.to_dict()) == d


def test_pure_no_model_calls_no_state(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*_a: object, **_k: object) -> None:
        raise AssertionError("the controller opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    p = table_policy()
    before = copy.deepcopy(p)
    first = [decide(b, budget, p) for b in (None, 1, 2, 3, 4, 5) for budget in (1, 4, 9, 16)]
    again = [decide(b, budget, p) for b in (None, 1, 2, 3, 4, 5) for budget in (1, 4, 9, 16)]
    assert first == again
    assert p == before  # the policy is not mutated


def test_controller_module_imports_no_model_code() -> None:
    src = Path(__file__).resolve().parents[3] / "agent" / "control" / "decide.py"
    imported = set()
    for node in ast.walk(ast.parse(src.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
    model_code = ("worldplan.worldmodel", "httpx", "worldplan.agent.strategies")
    assert not {m for m in imported if m.startswith(model_code)}


def test_decide_step_from_signals_for_a_web_step() -> None:
    """The web agent's per-step call: its own proposals' signals -> bin -> decision."""
    from worldplan.agent.control.decide import decide_step
    from worldplan.agent.control.difficulty import Signals
    from worldplan.agent.control.policy import Policy, PolicyEntry

    web = Policy([PolicyEntry(None, 8, "act"), PolicyEntry(1, 8, "act"),
                  PolicyEntry(5, 8, "search", {"depth": 2, "branching": 3})],
                 cuts=[0.2, 0.4, 0.6, 0.8], domain="web")
    sure = Signals(scores=[0.95, 0.9, 0.92], answers=["click 3", "click 3", "click 3"])
    lost = Signals(scores=[0.1, 0.2, 0.05, 0.05], answers=["click 1", "type x", "click 2", None])
    d, est = decide_step("goal: book a flight", sure, 8, web)
    assert (d.strategy, est.bin, est.source) == ("act", 1, "predicted")
    d, est = decide_step("goal: book a flight", lost, 8, web)
    assert (d.strategy, d.params, est.bin) == ("search", {"depth": 2, "branching": 3}, 5)
    d, est = decide_step("goal", None, 8, web)  # no signals: the bin-free row
    assert (d.strategy, d.bin, est.bin) == ("act", None, None)
