"""MCTS over imagined states (agent.web.mcts) with the scripted model (control flow only):
lookahead changes the choice where one level of imagination is misled, the tree is recorded
with visits, the controller sizes simulations to the allowance, and budgets hold."""

from __future__ import annotations

import pytest

from tests.agent.web.test_graph_web import rows, run_episode
from tests.fakes.web import FakeWebEnv, ScriptedWebLLM, judged_actions
from worldplan.agent.control.difficulty import Estimate
from worldplan.agent.graph.budgets import StepCosts
from worldplan.agent.web.mcts import TreeState, select_path
from worldplan.agent.web.plans import BranchPlan
from worldplan.agent.web.router import WebRouter, fit, make_router
from worldplan.traces.schema import SearchNode, Step
from worldplan.traces.store import TraceStore

DECOY, RIGHT, NEXT = "click('e1')", "fill('e2', 'Bob')", "check('e4')"


def decoy_propose(done: int, prompt: str, n: int) -> list[str]:
    """On the real page: the decoy first, then the right action; imagined: the next one."""
    if "(imagined:" in prompt:
        return [NEXT] * n
    return [DECOY, RIGHT][:n]


def decoy_judge(prompt: str) -> float:
    """One level deep the decoy looks better (0.6 vs 0.5); every deeper state says the
    opposite (0.1 after the decoy, 0.9 after the right action)."""
    acts = judged_actions(prompt)
    if len(acts) <= 1:
        return 0.6 if acts and acts[0] == DECOY else 0.5
    return 0.1 if acts[0] == DECOY else 0.9


def first_action(controller: WebRouter, store: TraceStore) -> tuple[str, int, int]:
    llm = ScriptedWebLLM(propose=decoy_propose, judge=decoy_judge)
    env = FakeWebEnv()
    out, _ = run_episode(llm, env, controller, store, budget=None, max_steps=1)
    assert out.status == "completed"
    return env.steps[0], out.episode_id, len(llm.requests)


def test_mcts_lookahead_overrules_a_misleading_first_level(store: TraceStore) -> None:
    one_level, _, _ = first_action(make_router("best-of-n", n=2), store)
    assert one_level == DECOY  # WebDreamer's imagine-and-rank takes the decoy
    mcts = make_router("search", n=2, depth=3, search="mcts", simulations=4)
    chosen, episode_id, _ = first_action(mcts, store)
    assert chosen == RIGHT
    step = rows(store, Step, episode_id)[0]
    assert step.decision["params"]["simulations"] == 4
    nodes = rows(store, SearchNode, episode_id)
    states = [n for n in nodes if n.kind == "imagined_state"]
    roots = [n for n in states if n.depth == 1]
    assert {n.answer for n in roots} == {DECOY, RIGHT}
    visits = {n.answer: n.info["visits"] for n in roots}
    assert visits[RIGHT] > visits[DECOY]
    # every simulation adds one visit to a root child: roots start at 1 each
    assert sum(visits.values()) == len(roots) + 4
    chosen_node = next(n for n in nodes if n.chosen)
    assert chosen_node.answer == RIGHT and chosen_node.depth == 1
    keys = {n.key for n in nodes}
    assert all(n.parent_key is None or n.parent_key in keys for n in nodes)
    # deeper imagined states hang under proposals made from imagined states
    deep = [n for n in states if n.depth > 1]
    assert deep and all(n.info["path"][0] in (DECOY, RIGHT) for n in deep)


def test_mcts_stops_when_the_tree_is_complete(store: TraceStore) -> None:
    """Depth 2, width 1: once both roots are expanded nothing is left to expand; asking for
    50 simulations runs 2 and stops (done, not budget)."""
    mcts = make_router("search", n=2, depth=2, search="mcts", simulations=50)
    mcts = WebRouter(mcts.strategy, 2, "branch",
                          {**mcts.params, "width": 2}, mcts.policy)
    chosen, episode_id, _ = first_action(mcts, store)
    assert chosen == RIGHT
    step = rows(store, Step, episode_id)[0]
    assert step.info["search_stop"] == "done"
    roots = [n for n in rows(store, SearchNode, episode_id)
             if n.kind == "imagined_state" and n.depth == 1]
    assert sorted(n.info["visits"] for n in roots) == [2, 2]


def test_select_prefers_unvisited_promise_and_skips_leaves() -> None:
    a = TreeState("a", [(DECOY, "")], 0.9, 1, visits=1, value=0.9)
    b = TreeState("b", [(RIGHT, "")], 0.1, 1, visits=5, value=0.5)
    assert [s.key for s in select_path([a, b], depth=2, c=1.0)] == ["a"]
    a.expanded = True  # expanded with no children: a dead end
    assert [s.key for s in select_path([a, b], depth=2, c=1.0)] == ["b"]
    b.expanded = True
    assert select_path([a, b], depth=2, c=1.0) == []  # nothing left to expand
    stop = TreeState("s", [("stop('done')", "")], 0.5, 1)
    assert select_path([stop], depth=3, c=1.0) == []  # a finished task is a leaf


def test_controller_cuts_simulations_to_fit_the_allowance() -> None:
    costs = StepCosts(proposal=10, predict=20, judge=1)
    p = BranchPlan(width=2, depth=3, beam=2, samples=1, simulations=6)
    assert p.cost(costs) == 2 * 21 + 6 * (2 * 10 + 2 * 21)
    route, q, why = fit("branch", p, 2 * 21 + 2 * 62, costs, readable=2)
    assert isinstance(q, BranchPlan)
    assert route == "branch" and q.simulations == 2 and "cut" in why
    assert q.cost(costs) <= 2 * 21 + 2 * 62
    route, q, _ = fit("branch", p, 30, costs, readable=2)  # not even one root fits
    assert route != "branch" or q is not None and q.cost(costs) <= 30


def test_compute_optimal_branches_with_mcts_and_revise_ignores_its_params() -> None:
    c = make_router("compute-optimal", n=3, search="mcts", simulations=3)
    costs = StepCosts(8, 8, 1)
    hard = c.decide(Estimate(5, 0.1, "predicted", ""), readable=3, tokens_left=None,
                    allowance=None, costs=costs)
    assert hard["route"] == "branch" and hard["params"]["simulations"] == 3
    mid = c.decide(Estimate(3, 0.5, "predicted", ""), readable=3, tokens_left=None,
                   allowance=None, costs=costs)
    assert mid["route"] == "revise" and "simulations" not in mid["params"]
    with pytest.raises(KeyError, match="unknown search"):
        make_router("search", search="astar")


@pytest.mark.parametrize("budget", [20, 70, 200])
def test_mcts_never_exceeds_the_budget(budget: int, store: TraceStore) -> None:
    llm = ScriptedWebLLM(propose=decoy_propose, judge=decoy_judge)
    controller = make_router("search", n=2, depth=3, search="mcts", simulations=8)
    out, _ = run_episode(llm, FakeWebEnv(), controller, store, budget=budget, max_steps=3)
    assert out.status == "completed"
    assert sum(t for _, t in llm.served) <= budget
