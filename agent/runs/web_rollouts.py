"""Rollouts of one web episode for counterfactuals: restore a step, act reactively, take an arm.

All through a `WebDomain`'s own methods, the ones the graph's nodes call (start, propose,
estimate, search, execute), on states shaped like the graph's (`AgentState`):
- `restore(domain, task, prefix, max_steps)`: reset the page with the domain's seed and
  replay the prefix of real actions (`execute`: a browser crash during the replay is
  retried there); the state, with the page seen after the last replayed action;
- `reactive(domain, state, budget)`: the reactive strategy's steps (one proposal, act,
  execute) until the episode ends, the step limit, or the budget cannot pay a proposal; it
  returns the pages seen (hashes, agent.web.counterfactual_rows.page_hash) before each step;
- `take_arm(domain, state, candidates, decision)`: one step's search with the arm's decision
  under a budget of its allowance, then the chosen action executed; what it spent.
No checkpoints, no trace rows of steps (the counterfactual file is the resumable record;
the LLM calls are traced by the caller). Not handled: choosing states or arms, files
(agent.runs.web_counterfactual).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from worldplan.agent.graph.state import AgentState, StepDecision, initial_state
from worldplan.agent.graph.tree import Keys
from worldplan.agent.web.counterfactual_rows import page_hash
from worldplan.agent.web.domain import WebDomain
from worldplan.worldmodel.llm.accounting import Budget

MIN_STEP_TOKENS = 8  # fewer generated tokens left than this ends a reactive rollout


def uncached(budget: Budget) -> int:
    """Uncached prompt + completion tokens a budget was charged, whatever its unit."""
    return (budget.spent_prompt_tokens - budget.spent_cached_tokens
            + budget.spent_completion_tokens)


def page_of(domain: WebDomain, state: AgentState) -> str:
    return page_hash(domain.observation_text(state["observation"]))


async def execute(domain: WebDomain, state: AgentState, action: str,
                  prediction: str = "") -> AgentState:
    """`action` executed on the live page; the next state (as the graph's execute node)."""
    res = await domain.execute(state, action, prediction)
    step = state["step"] + 1
    done = res.terminated or res.truncated or step >= state["max_steps"]
    stop = "done" if res.terminated else "max_steps" if done else ""
    return AgentState(**{**state, "observation": res.observation, "reward": res.reward,
                         "step": step, "actions": [*state["actions"], action],
                         "history": [*state.get("history", []),
                                     {"action": action, "step": state["step"],
                                      "changed": res.info.get("page_changed")}],
                         "done": done, "stop_reason": stop, "candidates": []})


async def restore(domain: WebDomain, task: str, prefix: list[str],
                  max_steps: int) -> AgentState:
    """The state after `prefix`: reset with the domain's seed, then replay (see above)."""
    state = initial_state(kind="web", task=task, seed=domain.seed, max_steps=max_steps)
    state.update(await domain.start(state))  # type: ignore[typeddict-item]
    for action in prefix:
        state = await execute(domain, state, action)
    return state


@dataclass
class Rollout:
    state: AgentState  # the last state
    pages: list[str] = field(default_factory=list)  # page hash before each step taken
    budget: Budget = field(default_factory=Budget)


async def reactive(domain: WebDomain, state: AgentState, budget: Budget) -> Rollout:
    """Act on one proposal a step to the end (the reactive strategy's steps)."""
    out = Rollout(state, budget=budget)
    while not state.get("done"):
        left = budget.tokens_left
        if left is not None and left < MIN_STEP_TOKENS or not budget.can_afford(1):
            state = AgentState(**{**state, "done": True, "stop_reason": "budget"})
            break
        keys = Keys(state["step"])
        cands = await domain.propose(state, 1, budget, keys)
        if not cands:  # the budget refused the call
            state = AgentState(**{**state, "done": True, "stop_reason": "budget"})
            break
        out.pages.append(page_of(domain, state))
        here = AgentState(**{**state, "candidates": cands})
        chosen = await domain.search("act", here, StepDecision(route="act"), budget, keys)
        state = await execute(domain, here, chosen.action or "")
    out.state = state
    return out


@dataclass(frozen=True)
class ArmStep:
    state: AgentState  # after the arm's action
    action: str
    tokens: int  # uncached prompt + completion tokens of the arm's search
    completion_tokens: int
    wall_s: float  # seconds, search and execution


async def take_arm(domain: WebDomain, state: AgentState, candidates: list[dict[str, Any]],
                   decision: StepDecision, *, count_prompts: bool = True) -> ArmStep:
    """The arm's step: search (route and plan of `decision`) under a budget of its
    allowance (in the live steps' unit: total tokens, or completion tokens without
    `count_prompts`), then execute the chosen action."""
    t0 = time.time()
    allowance = decision.get("allowance")
    budget = Budget(None, allowance if allowance else None, count_prompts=count_prompts)
    here = AgentState(**{**state, "candidates": candidates, "decision": decision})
    route = str(decision.get("route", "act"))
    out = await domain.search(route, here, decision, budget, Keys(state["step"]))
    action = out.action or ""
    after = await execute(domain, here, action, out.prediction)
    return ArmStep(after, action, uncached(budget), budget.spent_completion_tokens,
                   time.time() - t0)
