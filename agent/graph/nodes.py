"""The agent graph's nodes (state -> partial state) and routers (`should_*`).

One step of an episode: `propose` candidates -> `estimate` this step's difficulty from them
-> `decide` (the controller: route, parameters, the step's token allowance) -> one of `act`,
`revise`, `branch` -> `execute` the chosen action in the real environment, then loop or end.

Dependencies come through LangGraph's runtime context (`AgentContext`): the `Domain` (the
environment plus the models that know it: web or MATH), the `WebRouter`, the episode's
`Budget`, and optionally a `StepRecorder` (agent.runs.recorder writes trace rows). Nothing is
global. The budget's
spending is mirrored into the state (`spent`) after every node that spends, so a resumed
episode can rebuild its budget (`budget_from_state`).

`execute` hands the step to the recorder as it happens: a Step row (observation, action,
reward, the decision JSON: difficulty, budget left, route, reason, parameters; info: the
world model's accuracy on the executed action) and the step's search nodes with the chosen
one marked. A step that is replayed after a crash mid-step is recorded again in place of
the first record (agent.runs.recorder); each row says which attempt wrote it.
Not handled: the domains themselves (agent.web.domain, agent.math.domain), the wiring
(agent.graph.build).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from langgraph.graph import END
from langgraph.runtime import Runtime

from worldplan.agent.control.difficulty import Estimate
from worldplan.agent.graph.budgets import StepCosts, spent_of, step_allowance
from worldplan.agent.graph.state import AgentState, StepDecision
from worldplan.agent.graph.tree import Keys, SearchOutcome
from worldplan.worldmodel.llm.accounting import Budget


@dataclass
class StepResult:
    """What executing an action in the real environment gave."""

    observation: dict[str, Any]
    reward: float
    terminated: bool
    truncated: bool
    error: str = ""
    answer: str = ""
    info: dict[str, Any] = field(default_factory=dict)


class Domain(Protocol):
    """An environment and the models that act in it (web pages, or MATH problems)."""

    kind: str
    costs: StepCosts
    needs_candidates: bool  # routes other than act need readable proposals (web)

    async def start(self, state: AgentState) -> dict[str, Any]: ...

    def observation_text(self, observation: dict[str, Any]) -> str: ...

    async def propose(self, state: AgentState, n: int, budget: Budget,
                      keys: Keys) -> list[dict[str, Any]]: ...

    def estimate(self, goal: str, candidates: list[dict[str, Any]],
                 state: AgentState | None = None) -> Estimate: ...

    async def search(self, route: str, state: AgentState, decision: StepDecision,
                     budget: Budget, keys: Keys) -> SearchOutcome: ...

    async def execute(self, state: AgentState, action: str,
                      prediction: str) -> StepResult: ...


class Router(Protocol):
    """Chooses the route (agent.web.router.WebRouter, agent.math.domain's)."""

    @property
    def strategy(self) -> str: ...

    @property
    def proposals(self) -> int: ...

    def decide(self, difficulty: Estimate | None, *, readable: int | None,
               tokens_left: int | None, allowance: int | None,
               costs: StepCosts, free: int = 0) -> StepDecision: ...


class StepRecorder(Protocol):
    """Where executed steps go (agent.runs.recorder.EpisodeRecorder: trace rows)."""

    def record_step(self, index: int, *, nodes: list[dict[str, Any]], observation: str,
                    action: str, reward: float, terminated: bool, truncated: bool, error: str,
                    decision: dict[str, Any], info: dict[str, Any],
                    wall_time_s: float) -> None: ...


@dataclass
class AgentContext:
    domain: Domain
    router: Router
    budget: Budget
    recorder: StepRecorder | None = None
    horizon: int = 3  # steps over which the tokens left are shared (step_allowance)
    min_step_tokens: int = 8  # fewer tokens left than this ends the episode (tokens)
    attempt: int = 1  # which attempt of the episode this is (after a crash: 2, ...)






# ---- nodes --------------------------------------------------------------------------------

async def start(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Reset the environment: the first observation and the goal."""
    return await runtime.context.domain.start(state)


async def propose(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Sample the controller's number of candidate actions (flat proposal nodes)."""
    ctx = runtime.context
    t0 = time.time()  # the step's wall time starts with its proposals (seconds)
    left = ctx.budget.tokens_left
    if left is not None and left < ctx.min_step_tokens or not ctx.budget.can_afford(1):
        return {"done": True, "stop_reason": "budget", "candidates": []}
    n = ctx.router.proposals
    if left is not None and n > 0:
        n = max(1, min(n, left // max(1, ctx.domain.costs.proposal)))
    keys = Keys(state["step"])
    cands = await ctx.domain.propose(state, n, ctx.budget, keys)
    if not cands and n > 0 and ctx.domain.needs_candidates:  # the budget refused the call
        return {"done": True, "stop_reason": "budget", "candidates": [],
                "spent": spent_of(ctx.budget)}
    return {"candidates": cands, "nodes": cands, "spent": spent_of(ctx.budget),
            "info": {**state.get("info", {}), "t_step": t0}}


async def estimate(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """This step's difficulty from the proposals and the step's state (the page, the step
    index): the domain's estimator (agent.web.difficulty, agent.control.difficulty)."""
    est = runtime.context.domain.estimate(state.get("goal", ""), state["candidates"], state)
    return {"difficulty": est.to_dict()}


async def decide(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """The controller's route, its parameters and the step's allowance (pure)."""
    ctx = runtime.context
    d = state.get("difficulty") or {}
    est = (Estimate(d.get("bin"), d.get("p_solve"), d.get("source", "predicted"),
                    d.get("reason", ""), d.get("features", {})) if d else None)
    left = ctx.budget.tokens_left
    steps_left = state["max_steps"] - state["step"]
    readable = (sum(1 for c in state["candidates"] if c["answer"])
                if ctx.domain.needs_candidates else None)
    # candidates the domain marks `info["free"]`: imagined without a model call
    free = sum(1 for c in state["candidates"] if c["answer"] and (c.get("info") or {}).get("free"))
    decision = ctx.router.decide(
        est, readable=readable, tokens_left=left,
        allowance=step_allowance(left, steps_left, ctx.horizon), costs=ctx.domain.costs,
        free=free)
    return {"decision": decision}


async def _route(route: str, state: AgentState, runtime: Runtime[AgentContext]
                 ) -> dict[str, Any]:
    ctx = runtime.context
    decision = state["decision"]
    allowance = decision.get("allowance")
    budget = ctx.budget.child(max_tokens=allowance) if allowance is not None else ctx.budget
    keys = Keys(state["step"])  # search keys (w, p, r) differ from proposals' (c)
    out = await ctx.domain.search(route, state, decision, budget, keys)
    chosen = {"action": out.action, "key": out.key, "score": out.score,
              "prediction": out.prediction, "route": route, "stop_reason": out.stop_reason}
    return {"chosen": chosen, "nodes": out.nodes, "spent": spent_of(ctx.budget)}


async def act(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    return await _route("act", state, runtime)


async def revise(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    return await _route("revise", state, runtime)


async def branch(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    return await _route("branch", state, runtime)


async def execute(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Run the chosen action in the real environment and record the step."""
    ctx = runtime.context
    chosen = state["chosen"]
    action = chosen.get("action") or ""
    res = await ctx.domain.execute(state, action, chosen.get("prediction") or "")
    step = state["step"]
    info = state.get("info", {})
    wall = time.time() - float(info.get("t_step", time.time()))
    decision = dict(state.get("decision", {}))
    decision["difficulty_estimate"] = state.get("difficulty", {})
    record = {"step": step, "action": action, "reward": res.reward, "error": res.error,
              "route": chosen.get("route"), "chosen_key": chosen.get("key"),
              "score": chosen.get("score"), "prediction": chosen.get("prediction"),
              "world_model": res.info.get("world_model"), "wall_time_s": wall,
              "changed": res.info.get("page_changed"),
              "attempt": ctx.attempt}
    if ctx.recorder is not None:
        step_nodes = [dict(n) for n in state.get("nodes", []) if n["info"].get("step") == step]
        for n in step_nodes:
            n["chosen"] = n["key"] == chosen.get("key")
        ctx.recorder.record_step(
            step, nodes=step_nodes,
            observation=ctx.domain.observation_text(state["observation"]), action=action,
            reward=res.reward, terminated=res.terminated, truncated=res.truncated,
            error=res.error, decision=decision,
            info={**res.info, "chosen_key": chosen.get("key"), "score": chosen.get("score"),
                  "prediction": chosen.get("prediction"), "attempt": ctx.attempt,
                  "search_stop": chosen.get("stop_reason")},
            wall_time_s=wall)
    steps = step + 1
    done = res.terminated or res.truncated or steps >= state["max_steps"]
    stop = ("crashed" if res.info.get("browser_crashed") else "done" if res.terminated
            else "max_steps" if done else "")
    return {"observation": res.observation, "reward": res.reward, "step": steps,
            "actions": [action], "history": [record], "done": done, "stop_reason": stop,
            "answer": res.answer or state.get("answer", ""), "spent": spent_of(ctx.budget)}


# ---- routers ------------------------------------------------------------------------------

def should_continue(state: AgentState) -> str:
    """After start and execute: another step, or the end."""
    return END if state.get("done") else "propose"


def should_estimate(state: AgentState) -> str:
    """After propose: on to the difficulty estimate, or the end when the budget ran out."""
    return END if state.get("done") else "estimate"


def should_route(state: AgentState) -> str:
    """After decide: the controller's route."""
    route = state["decision"].get("route", "act")
    return route if route in ("act", "revise", "branch") else "act"
