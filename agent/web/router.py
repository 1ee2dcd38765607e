"""The web agent's per-step router: from this step's difficulty and budget to a route.

A `WebRouter` answers, at every step, how many candidates to propose, then (given the
difficulty estimate of those proposals and the tokens left) which route to take:

- `act`: execute the proposers' majority action directly (no imagination);
- `revise`: imagine the plan's outcome, judge it, revise while it scores low (`rounds`);
- `branch`: tree search over imagined states (`width` candidates, `depth` levels,
  `samples` world-model samples per state, averaged by the verifier): beam search keeping
  `beam` paths per level, or MCTS (agent.web.mcts) when `simulations` > 0.

Strategies (the CLI's `--strategy`): `reactive` (1 proposal, always act), `majority` (N
proposals, act on the most proposed: more samples, no world model), `best-of-n` (N
proposals, branch with depth 1: WebDreamer's imagine-and-rank), `revise`, `search` (branch
with depth 2 by beam search, or at least 3 by MCTS with `search="mcts"`), and
`compute-optimal`: the route and its parameters come from agent.control.decide.decide(
difficulty bin, step allowance, policy), the same pure controller MATH uses, with a web
policy file whose strategies are routes and whose budgets are step allowances in tokens
(default: the bundled prior agent/policies/web_prior.json: easy steps act, middling ones
revise, hard ones branch, as in Snell et al.).

Every decision is then fitted to the step's allowance of tokens (the episode budget's unit,
uncached prompt + completion by default; `step_allowance`: the tokens left shared over the
next few steps): depth, then width, are
cut until the plan's worst-case cost (`StepCosts`) fits, else the route falls back to a
cheaper one. Candidates whose change the world model computes without a call
(worldmodel.web.local_first) cost no prediction: they are imagined first and not cut
before the others. The search itself also draws from a child budget of that size, so the
allowance holds even where the plan's estimate is wrong.
Pure functions: no model is called here. A fitted policy comes from counterfactual rollouts
(agent.web.controller_fit, `worldplan web-controller fit`); the bundled one is a prior.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from worldplan.agent.control.decide import decide as controller_decide
from worldplan.agent.control.difficulty import Estimate
from worldplan.agent.control.policy import POLICIES, Policy, PolicyError, load_policy
from worldplan.agent.graph.budgets import StepCosts
from worldplan.agent.graph.state import StepDecision
from worldplan.agent.web.plans import MCTS_DEPTH, BranchPlan, Plan, RevisePlan, plan_of

ROUTES = ("act", "revise", "branch")
STRATEGIES = ("reactive", "majority", "best-of-n", "revise", "search", "compute-optimal")
WEB_POLICY = POLICIES / "web_prior.json"


@dataclass(frozen=True)
class WebRouter:
    strategy: str
    proposals: int = 1  # candidates the propose node samples
    route: str | None = None  # a fixed route; None: by difficulty through `policy`
    params: dict[str, int] = field(default_factory=dict)
    policy: Policy | None = None  # compute-optimal: a web policy (routes x step allowances)

    def decide(self, difficulty: Estimate | None, *, readable: int | None,
               tokens_left: int | None, allowance: int | None, costs: StepCosts,
               free: int = 0) -> StepDecision:
        """The route and its parameters for this step (see the module docstring); `free`
        of the `readable` candidates are predicted without a model call."""
        chosen: dict[str, int] = {}
        if self.route is not None or self.policy is None:
            route, reason = self.route or "act", f"strategy {self.strategy}"
        else:
            bin_ = None if difficulty is None or difficulty.bin is None else int(difficulty.bin)
            d = controller_decide(bin_, allowance, self.policy)
            route, chosen = d.strategy, dict(d.params)
            why = f" ({difficulty.reason})" if difficulty is not None and difficulty.reason else ""
            reason = f"controller: {d.reason}{why}"
        if readable == 0 and route != "act":
            route, reason = "act", reason + "; no readable proposal to imagine, act"
        base = default_plan(route, self.proposals)
        if base is not None:
            base = plan_of(route, {**asdict(base), **chosen, **self.params})
        route, plan, why = fit(route, base, allowance, costs, readable, free)
        return StepDecision(route=route, reason=reason + (f"; {why}" if why else ""),
                            difficulty=None if difficulty is None else difficulty.bin,
                            budget_left=tokens_left, allowance=allowance,
                            params=asdict(plan) if plan is not None else {})


def default_plan(route: str, proposals: int) -> Plan | None:
    """The route's plan before the policy's and the strategy's settings: branch as wide as
    the proposals (at least 2)."""
    if route == "branch":
        return BranchPlan(width=max(2, proposals))
    return plan_of(route)


def fit(route: str, plan: Plan | None, allowance: int | None, costs: StepCosts,
        readable: int | None, free: int = 0) -> tuple[str, Plan | None, str]:
    """Cut the plan until its worst-case cost fits the allowance; say what was cut. A branch
    plan that cannot fit falls back to revising, a revise plan to acting. `free` roots cost
    no prediction (the search takes them first: agent.web.plans.kept_roots)."""
    if allowance is None or plan is None:
        return route, plan, ""
    p: Plan | None = plan
    if isinstance(p, BranchPlan) and readable is not None:
        p = replace(p, width=max(1, min(p.width, readable)))
    while p is not None and p.cost(costs, free) > allowance:
        p = p.cut()
    if p is None and route == "branch":
        return fit("revise", RevisePlan(), allowance, costs, readable, free)
    if p is None:
        return "act", None, f"nothing but acting fits {allowance} tokens"
    return route, p, "" if p == plan else f"cut to {asdict(p)} to fit {allowance} tokens"


SEARCHES = ("beam", "mcts")


def load_web_policy(path: str | Path | None = None) -> Policy:
    """A web policy file (default: the bundled prior); its strategies must be routes."""
    policy = load_policy(path or WEB_POLICY)
    bad = sorted({e.strategy for e in policy.entries} - set(ROUTES))
    if policy.domain != "web" or bad:
        raise PolicyError(f"{policy.source}: not a web policy (domain {policy.domain!r}"
                          + (f", strategies {bad} are not routes {ROUTES}" if bad else "")
                          + "): the web agent's controller chooses routes")
    return policy


def make_router(strategy: str, *, n: int = 3, depth: int | None = None, rounds: int = 2,
                policy: Policy | str | Path | None = None, search: str = "beam",
                simulations: int = 4, expand: int = 0) -> WebRouter:
    """The controller of a `--strategy` name; `n` proposals for best-of-n / search /
    compute-optimal (its difficulty probe), `depth` for search (default 2 for beam search;
    MCTS searches at least MCTS_DEPTH = 3 levels), `rounds` for revise; `search` ("beam" or
    "mcts" with `simulations`) for the branches of search and compute-optimal; `expand`:
    the one-gesture actions the domain adds to the proposals (agent.web.expansion), which
    widen best-of-n's and search's roots to n + expand (the allowance still cuts them)."""
    if search not in SEARCHES:
        raise KeyError(f"unknown search {search!r}: choose one of {', '.join(SEARCHES)}")
    if search == "mcts":
        depth = max(MCTS_DEPTH, depth or MCTS_DEPTH)
        tree = {"simulations": simulations, "depth": depth}
    else:
        depth, tree = depth or 2, {}
    if strategy == "reactive":
        return WebRouter(strategy, 1, "act")
    if strategy == "majority":
        return WebRouter(strategy, n, "act")
    if strategy == "best-of-n":
        return WebRouter(strategy, n, "branch", {"width": n + expand, "depth": 1})
    if strategy == "revise":
        return WebRouter(strategy, 1, "revise", {"rounds": rounds})
    if strategy == "search":
        return WebRouter(strategy, n, "branch", {"width": n + expand, "depth": depth, **tree})
    if strategy == "compute-optimal":
        table = policy if isinstance(policy, Policy) else load_web_policy(policy)
        return WebRouter(strategy, n, None, dict(tree), table)
    raise KeyError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")


def decision_record(d: StepDecision) -> dict[str, Any]:
    """The decision as stored in Step.decision."""
    return dict(d)
