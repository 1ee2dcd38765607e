"""MCTS over imagined states (agent.web.mcts) through the agent graph with the scripted model
(control flow only): lookahead changes the choice where one level of imagination is misled,
the tree is recorded with visits and reaches depth 3, the controller sizes simulations to the
allowance, and budgets hold. The search's own rules: test_mcts_search."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from tests.agent.web.test_graph_web import rows, run_episode
from tests.fakes.openai_server import Answer, Reply
from tests.fakes.web import FakeWebEnv, ScriptedWebLLM, judged_actions, words_sample
from worldplan.agent.control.difficulty import Estimate
from worldplan.agent.graph.budgets import StepCosts
from worldplan.agent.web.plans import BranchPlan
from worldplan.agent.web.router import WebRouter, fit, make_router
from worldplan.traces.schema import SearchNode, Step
from worldplan.traces.store import TraceStore

DECOY, RIGHT, NEXT = "click('e1')", "fill('e2', 'Bob')", "check('e4')"
DID = "did_"  # what an imagined page shows of the actions imagined on it


def tree_change(text: str) -> str:
    """The scripted world model's "the page shows X" as a change of the tree (a status line
    naming X), so a structured world model can apply it; other texts pass unchanged."""
    if not text.startswith("the page shows "):
        return text
    return f'+ status "{DID}{re.sub(r"[^A-Za-z0-9]+", "_", text[15:]).strip("_")}"'


@dataclass
class DecoyLLM(ScriptedWebLLM):
    """The scripted roles with a tree-change world model, and on the real page the decoy
    and then the right action, across however many requests the proposer makes."""

    real_given: int = 0  # real-page proposals answered so far

    def answer(self, body: dict[str, Any]) -> Answer:
        reply = super().answer(body)
        role = self.requests[-1][0]
        if role == "world_model" and isinstance(reply, Reply):
            reply = Reply([words_sample(tree_change(s.text), int(body["max_tokens"]))
                           for s in reply.samples], reply.prompt_tokens)
            self.served[-1] = (role, reply.completion_tokens)
        return reply

    def decoy_propose(self, done: int, prompt: str, n: int) -> list[str]:
        """Imagined (a page showing imagined actions, or an imagined history): the next
        action; real: the decoy, then the right one."""
        if DID in prompt or "(imagined:" in prompt:
            return [NEXT] * n
        out = [(DECOY, RIGHT)[(self.real_given + i) % 2] for i in range(n)]
        self.real_given += n
        return out


def decoy_judge(prompt: str) -> float:
    """One level deep the decoy looks better (0.6 vs 0.5); every deeper state says the
    opposite (0.1 after the decoy, 0.9 after the right action)."""
    acts = judged_actions(prompt)
    if len(acts) <= 1:
        return 0.6 if acts and acts[0] == DECOY else 0.5
    return 0.1 if acts[0] == DECOY else 0.9


def decoy_llm() -> DecoyLLM:
    llm = DecoyLLM(judge=decoy_judge)
    llm.propose = llm.decoy_propose
    return llm


def first_action(controller: WebRouter, store: TraceStore) -> tuple[str, int, int]:
    llm = decoy_llm()
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


def test_mcts_searches_three_levels_even_when_asked_for_two(store: TraceStore) -> None:
    """MCTS's depth is at least 3 (agent.web.plans.MCTS_DEPTH), whatever `depth` says; the
    decision records it, and the tree reaches it."""
    mcts = make_router("search", n=2, depth=2, search="mcts", simulations=8)
    assert mcts.params["depth"] == 3
    chosen, episode_id, _ = first_action(mcts, store)
    assert chosen == RIGHT
    step = rows(store, Step, episode_id)[0]
    assert step.decision["params"]["depth"] == 3
    states = [n for n in rows(store, SearchNode, episode_id) if n.kind == "imagined_state"]
    assert max(n.depth for n in states) == 3
    assert BranchPlan(depth=1, simulations=2).mcts_depth == 3
    assert BranchPlan(depth=5, simulations=2).mcts_depth == 5


def test_controller_cuts_simulations_to_fit_the_allowance() -> None:
    costs = StepCosts(proposal=10, predict=20, judge=1)
    p = BranchPlan(width=2, depth=3, beam=2, samples=1, simulations=6)
    # the roots imagined, then per simulation one proposal request and one imagined state
    assert p.cost(costs) == 2 * 21 + 6 * (2 * 10 + 21)
    route, q, why = fit("branch", p, 2 * 21 + 2 * 41, costs, readable=2)
    assert isinstance(q, BranchPlan)
    assert route == "branch" and q.simulations == 2 and "cut" in why
    assert q.cost(costs) <= 2 * 21 + 2 * 41
    route, q, _ = fit("branch", p, 30, costs, readable=2)  # not even one root fits
    assert route != "branch" or q is not None and q.cost(costs) <= 30


def test_compute_optimal_branches_with_mcts_and_revise_ignores_its_params() -> None:
    c = make_router("compute-optimal", n=3, search="mcts", simulations=3)
    costs = StepCosts(8, 8, 1)
    hard = c.decide(Estimate(5, 0.1, "predicted", ""), readable=3, tokens_left=None,
                    allowance=None, costs=costs)
    assert hard["route"] == "branch" and hard["params"]["simulations"] == 3
    assert hard["params"]["depth"] == 3
    mid = c.decide(Estimate(3, 0.5, "predicted", ""), readable=3, tokens_left=None,
                   allowance=None, costs=costs)
    assert mid["route"] == "revise" and "simulations" not in mid["params"]
    with pytest.raises(KeyError, match="unknown search"):
        make_router("search", search="astar")


@pytest.mark.parametrize("budget", [20, 70, 200])
def test_mcts_never_exceeds_the_budget(budget: int, store: TraceStore) -> None:
    llm = decoy_llm()
    controller = make_router("search", n=2, depth=3, search="mcts", simulations=8)
    out, _ = run_episode(llm, FakeWebEnv(), controller, store, budget=budget, max_steps=3)
    assert out.status == "completed"
    assert sum(t for _, t in llm.served) <= budget
