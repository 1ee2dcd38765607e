"""MATH through the agent graph: one step, the same strategies, controller and verifier.

`MathDomain` is the graph's view of a single MATH problem:
- propose: agent.strategies.probe's probe (a few judged samples; `proposals` = its size,
  0 for fixed strategies), stored as proposal nodes;
- estimate: agent.control.decide's estimator (predicted / learned) on the probe's signals;
- decide (`MathRouter`): for `compute-optimal`, agent.control.decide.decide(bin,
  generations at entry, policy); a fixed mode maps to its strategy. The strategy's family
  is the route: best-of-N family -> `act` (reactive = one sample), revisions -> `revise`,
  beam / lookahead -> `branch`;
- the route node runs agent.strategies.compute_optimal.run_chosen (the chosen strategy on
  what is left of the budget, selection over its candidates and the probe's);
- execute: submits the selected solution to `worldplan/Math-v0` (graded reward) when an
  env is given; without one (inside the math runner, agent.runs.math, which grades
  itself) it only records it.

`graph_strategy(problem, ctx, mode=...)` is the same graph as a strategy function
(`worldplan math --strategy graph -p mode=compute-optimal`), returning a StrategyResult.
Not handled: multi-step MATH dialogues; checkpointing (a problem is one step).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from worldplan.agent.control.decide import decide as controller_decide
from worldplan.agent.control.decide import make_estimator
from worldplan.agent.control.difficulty import Estimate
from worldplan.agent.control.policy import Policy, load_policy
from worldplan.agent.graph.budgets import StepCosts
from worldplan.agent.graph.build import run_graph
from worldplan.agent.graph.nodes import AgentContext, StepRecorder, StepResult
from worldplan.agent.graph.state import AgentState, StepDecision, initial_state
from worldplan.agent.graph.tree import Keys, SearchOutcome
from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.compute_optimal import probe_size, run_chosen
from worldplan.agent.strategies.probe import Probe, run_probe
from worldplan.agent.strategies.records import StrategyResult
from worldplan.envs.math.env import MathEnv
from worldplan.worldmodel.llm.accounting import Budget

MODES: dict[str, tuple[str, dict[str, Any]]] = {  # fixed mode -> (strategy, params)
    "reactive": ("majority", {"n": 1}),  # one sample, unjudged
    "best-of-n": ("best_of_n", {}),
    "revise": ("revisions", {}),
    "search": ("beam", {}),
}
ROUTE_OF = {"best_of_n": "act", "best_of_n_naive": "act", "majority": "act",
            "revisions": "revise", "beam": "branch", "lookahead": "branch", "dvts": "branch"}


@dataclass
class MathRouter:
    strategy: str  # a MODES name or "compute-optimal"
    budget: Budget
    policy: Policy | None = None
    proposals: int = 0  # probe samples (set from the policy for compute-optimal)
    judge_cost: int = 0  # generation-equivalents per judged sample (1: a charged verifier)

    def __post_init__(self) -> None:
        if self.strategy != "compute-optimal" and self.strategy not in MODES:
            raise KeyError(f"unknown mode {self.strategy!r}: compute-optimal, "
                           f"{', '.join(MODES)}")
        if self.strategy == "compute-optimal" and self.policy is not None:
            self.proposals = probe_size(int(self.policy.probe["n"]),
                                        float(self.policy.probe["max_fraction"]),
                                        self.budget.generations_left, self.judge_cost)

    def decide(self, difficulty: Estimate | None, *, readable: int | None,
               tokens_left: int | None, allowance: int | None,
               costs: StepCosts, free: int = 0) -> StepDecision:
        left = self.budget.generations_left
        if self.strategy == "compute-optimal":
            if self.policy is None:
                raise ValueError("compute-optimal needs a policy")
            d = controller_decide(difficulty.bin if difficulty else None, left, self.policy)
            name, params, reason = d.strategy, dict(d.params), d.reason
        else:
            name, params = MODES[self.strategy]
            reason = f"mode {self.strategy}"
        return StepDecision(route=ROUTE_OF.get(name, "act"), reason=reason,
                        difficulty=None if difficulty is None else difficulty.bin,
                        budget_left=left, allowance=None,
                        params={"strategy": name, "strategy_params": params})


@dataclass
class MathDomain:
    ctx: SearchContext  # client, verifier, the problem's budget, sampling settings
    problem: str
    policy: Policy | None = None
    env: MathEnv | None = None
    kind: str = "math"
    needs_candidates: bool = False
    costs: StepCosts = field(default_factory=lambda: StepCosts(0, 0, 0))
    probe: Probe = field(default_factory=Probe)
    result: StrategyResult | None = None

    async def start(self, state: AgentState) -> dict[str, Any]:
        return {"observation": {"problem": self.problem}, "goal": self.problem}

    def observation_text(self, observation: dict[str, Any]) -> str:
        return str(observation.get("problem", ""))

    async def propose(self, state: AgentState, n: int, budget: Budget,
                      keys: Keys) -> list[dict[str, Any]]:
        self.probe = await run_probe(self.problem, self.ctx, n) if n > 0 else Probe()
        return [{**nd.record(), "kind": "proposal",
                 "info": {**nd.info, "step": keys.step, "probe": True}}
                for nd in self.probe.nodes]

    def estimate(self, goal: str, candidates: list[dict[str, Any]],
                 state: AgentState | None = None) -> Estimate:
        est = make_estimator("auto", self.policy or Policy([]))
        return est.estimate(self.problem, self.probe.signals if self.probe.nodes else None)

    async def search(self, route: str, state: AgentState, decision: StepDecision,
                     budget: Budget, keys: Keys) -> SearchOutcome:
        p = decision.get("params", {})
        res = await run_chosen(self.problem, self.ctx, str(p["strategy"]),
                               dict(p.get("strategy_params", {})), self.probe)
        self.result = res
        probe_keys = {nd.key for nd in self.probe.nodes}
        records = [{**nd.record(), "info": {**nd.info, "step": keys.step}}
                   for nd in res.nodes if nd.key not in probe_keys]
        chosen = next((nd for nd in res.nodes if nd.chosen), None)
        return SearchOutcome(res.solution, chosen.key if chosen else None,
                             chosen.score if chosen else None, "", records, res.stop_reason)

    async def execute(self, state: AgentState, action: str, prediction: str) -> StepResult:
        answer = self.result.answer or "" if self.result else ""
        if self.env is None:
            return StepResult(state["observation"], 0.0, True, False, answer=answer,
                              info={"graded": False})
        self.env.reset(options={"index": 0})
        _, reward, term, trunc, info = await asyncio.to_thread(self.env.step, action)
        return StepResult(state["observation"], float(reward), term, trunc,
                          answer=str(info.get("answer", "")), info=info)


async def solve_with_graph(problem: str, ctx: SearchContext, *, mode: str = "compute-optimal",
                           policy: Policy | str | None = None, env: MathEnv | None = None,
                           recorder: StepRecorder | None = None
                           ) -> tuple[AgentState, MathDomain]:
    """One MATH problem through the graph; returns the final state and the domain."""
    pol = (policy if isinstance(policy, Policy) or policy is None and mode != "compute-optimal"
           else load_policy(policy))
    domain = MathDomain(ctx, problem, pol, env)
    router = MathRouter(mode, ctx.budget, pol, judge_cost=ctx.judge_paths)
    actx = AgentContext(domain, router, ctx.budget, recorder)
    init = initial_state(kind="math", task="math", seed=ctx.seed or 0, max_steps=1,
                         goal=problem)
    final = await run_graph(actx, init, thread_id="math", max_steps=1)
    return final, domain


async def graph_strategy(problem: str, ctx: SearchContext, *, mode: str = "compute-optimal",
                         policy: Policy | str | None = None) -> StrategyResult:
    """The graph as a strategy function (the runner grades and stores it)."""
    final, domain = await solve_with_graph(problem, ctx, mode=mode, policy=policy)
    res = domain.result
    if res is None:
        return ctx.result("graph", None, [], [], final.get("stop_reason") or "budget",
                          {"mode": mode})
    res.strategy = "graph"
    res.params = {"mode": mode, "decision": dict(final.get("decision", {})),
                  "difficulty": final.get("difficulty", {}), **res.params}
    return res
