"""The graph's per-step controller: from this step's difficulty and budget to a route.

A `StepController` answers, at every step, how many candidates to propose, then (given the
difficulty estimate of those proposals and the tokens left) which route to take:

- `act`: execute the proposers' majority action directly (no imagination);
- `revise`: imagine the plan's outcome, judge it, revise while it scores low (`rounds`);
- `branch`: beam search over imagined states (`width` candidates, `depth` levels, `beam`
  kept per level, `samples` world-model samples per state, averaged by the verifier).

Strategies (the CLI's `--strategy`): `reactive` (1 proposal, always act), `best-of-n` (N
proposals, branch with depth 1: WebDreamer's imagine-and-rank), `revise`, `search` (branch
with depth 2), and `compute-optimal`: the route comes from the difficulty bin
(agent.difficulty: bin 1 easiest .. 5 hardest) through `policy` (bin -> route), as in Snell
et al.: easy steps act, middling ones revise, hard ones branch. For MATH, `policy` may
instead come from agent.controller (see `controller_route`).

Every decision is then fitted to the step's allowance of generated tokens
(`step_allowance`: the tokens left shared over the next few steps): depth, then width, are
cut until the plan's worst-case cost (`StepCosts`) fits, else the route falls back to a
cheaper one. The search itself also draws from a child budget of that size, so the
allowance holds even where the plan's estimate is wrong.
Pure functions: no model is called here. Not handled: learned per-step policies for web.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.difficulty import Estimate
from agent.graph_state import Decision

ROUTES = ("act", "revise", "branch")
STRATEGIES = ("reactive", "best-of-n", "revise", "search", "compute-optimal")
DEFAULT_POLICY: dict[int, str] = {1: "act", 2: "act", 3: "revise", 4: "branch", 5: "branch"}


@dataclass(frozen=True)
class StepCosts:
    """Worst-case generated tokens of the search's parts."""

    proposal: int  # one proposed action (the proposer's max_tokens)
    predict: int  # one predicted change (the world model's max_tokens)
    judge: int  # one progress judgement (1 for P("Yes"))

    def imagined(self, samples: int) -> int:
        return samples * (self.predict + self.judge)

    def branch(self, width: int, depth: int, beam: int, samples: int) -> int:
        deeper = (depth - 1) * beam * (width * self.proposal + width * self.imagined(samples))
        return width * self.imagined(samples) + deeper

    def revise(self, rounds: int, samples: int) -> int:
        return self.imagined(samples) + rounds * (self.proposal + self.imagined(samples))


def step_allowance(tokens_left: int | None, steps_left: int, horizon: int = 3) -> int | None:
    """Generated tokens this step may spend: what is left, shared by the next steps (at most
    `horizon` of them, so early steps may think more). None when the budget is unlimited."""
    if tokens_left is None:
        return None
    return max(0, tokens_left // max(1, min(steps_left, horizon)))


@dataclass(frozen=True)
class StepController:
    strategy: str
    proposals: int = 1  # candidates the propose node samples
    route: str | None = None  # a fixed route; None: by difficulty through `policy`
    params: dict[str, int] = field(default_factory=dict)
    policy: dict[int, str] = field(default_factory=lambda: dict(DEFAULT_POLICY))

    def decide(self, difficulty: Estimate | None, *, readable: int | None,
               tokens_left: int | None, allowance: int | None, costs: StepCosts) -> Decision:
        """The route and its parameters for this step (see the module docstring)."""
        if self.route is not None:
            route, reason = self.route, f"strategy {self.strategy}"
        elif difficulty is None or difficulty.bin is None:
            route, reason = "act", "difficulty unknown"
        else:
            route = self.policy.get(int(difficulty.bin), "act")
            reason = f"difficulty bin {difficulty.bin} ({difficulty.reason}) -> {route}"
        if readable == 0 and route != "act":
            route, reason = "act", reason + "; no readable proposal to imagine, act"
        params = {**default_params(route, self.proposals), **self.params}
        route, params, why = fit(route, params, allowance, costs, readable)
        return Decision(route=route, reason=reason + (f"; {why}" if why else ""),
                        difficulty=None if difficulty is None else difficulty.bin,
                        budget_left=tokens_left, allowance=allowance, params=params)


def default_params(route: str, proposals: int) -> dict[str, int]:
    if route == "branch":
        return {"width": max(2, proposals), "depth": 1, "beam": 2, "samples": 1}
    if route == "revise":
        return {"rounds": 2, "samples": 1}
    return {}


def fit(route: str, params: dict[str, int], allowance: int | None, costs: StepCosts,
        readable: int | None) -> tuple[str, dict[str, int], str]:
    """Shrink the plan until its worst-case cost fits the allowance; say what was cut."""
    if allowance is None or route == "act":
        return route, params, ""
    p = dict(params)
    if route == "branch":
        p["width"] = max(1, min(p["width"], p["width"] if readable is None else readable))
        while costs.branch(p["width"], p["depth"], p["beam"], p["samples"]) > allowance:
            if p["depth"] > 1:
                p["depth"] -= 1
            elif p["samples"] > 1:
                p["samples"] -= 1
            elif p["width"] > 1:
                p["width"] -= 1
            else:
                return fit("revise", default_params("revise", 1), allowance, costs, readable)
        return route, p, "" if p == params else f"cut to {p} to fit {allowance} tokens"
    while costs.revise(p["rounds"], p["samples"]) > allowance:
        if p["samples"] > 1:
            p["samples"] -= 1
        elif p["rounds"] > 0:
            p["rounds"] -= 1
        else:
            return "act", {}, f"nothing but acting fits {allowance} tokens"
    return route, p, "" if p == params else f"cut to {p} to fit {allowance} tokens"


def make_controller(strategy: str, *, n: int = 3, depth: int = 2, rounds: int = 2,
                    policy: dict[int, str] | None = None) -> StepController:
    """The controller of a `--strategy` name; `n` proposals for best-of-n / search /
    compute-optimal (its difficulty probe), `depth` for search, `rounds` for revise."""
    if strategy == "reactive":
        return StepController(strategy, 1, "act")
    if strategy == "best-of-n":
        return StepController(strategy, n, "branch", {"width": n, "depth": 1})
    if strategy == "revise":
        return StepController(strategy, 1, "revise", {"rounds": rounds})
    if strategy == "search":
        return StepController(strategy, n, "branch", {"width": n, "depth": depth})
    if strategy == "compute-optimal":
        table = dict(DEFAULT_POLICY if policy is None else policy)
        bad = {r for r in table.values() if r not in ROUTES}
        if bad:
            raise ValueError(f"policy routes must be among {ROUTES}, got {sorted(bad)}")
        return StepController(strategy, n, None, {}, table)
    raise KeyError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")


def decision_record(d: Decision) -> dict[str, Any]:
    """The decision as stored in Step.decision."""
    return dict(d)
