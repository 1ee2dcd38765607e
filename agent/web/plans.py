"""Plans of the web agent's thinking routes: what a `branch` or `revise` step will do.

- `BranchPlan`: tree search over imagined states: `width` root candidates, each imagined by
  `samples` world-model predictions scored by the verifier; beam search keeps `beam` paths
  for `depth` levels, or MCTS runs `simulations` (> 0) simulations, each imagining at most
  one new state, to `mcts_depth` = max(MCTS_DEPTH (3), depth) levels.
- `RevisePlan`: imagine the plan's outcome, judge it, revise it up to `rounds` times, with
  `samples` predictions per imagined state.
Each plan knows its worst-case cost in generated tokens (`cost(StepCosts, free)`) and how to cut
itself one notch (`cut()`: the cheapest loss of search first), so the router can fit it to a
step's allowance. Plans are frozen: the defaults live here and nowhere else. In the graph's
JSON state a plan is its dict of fields (`asdict`), read back with `plan_of`.
`kept_roots(roots, width, free)`: the roots a branch plan of `width` imagines: those
predicted without a model call first (the cost the plan was fitted with), then the rest in
their order.
Not handled: the `act` route has no plan.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import TypeVar

from worldplan.agent.graph.budgets import StepCosts

MCTS_DEPTH = 3  # MCTS's least depth (imagined levels); agent.web.mcts's default
Root = TypeVar("Root", bound=tuple[str, str])  # (node key, action)


@dataclass(frozen=True)
class BranchPlan:
    width: int = 2  # root candidates imagined
    depth: int = 1  # imagined levels (beam search; MCTS: at least MCTS_DEPTH)
    beam: int = 2  # paths kept per level (beam search)
    samples: int = 1  # world-model predictions per imagined state
    simulations: int = 0  # MCTS simulations; 0: beam search

    @property
    def mcts(self) -> bool:
        return self.simulations > 0

    @property
    def mcts_depth(self) -> int:
        """MCTS's imagined levels: `depth`, at least MCTS_DEPTH (its cost does not grow
        with depth: each simulation imagines at most one state)."""
        return max(MCTS_DEPTH, self.depth)

    def cost(self, costs: StepCosts, free: int = 0) -> int:
        """Worst-case generated tokens (the roots imagined, then the deeper search); `free`
        roots are predicted without a model call (the search imagines them first)."""
        if self.mcts:
            return costs.mcts(self.width, self.simulations, self.samples, free)
        return costs.branch(self.width, self.depth, self.beam, self.samples, free)

    def cut(self) -> BranchPlan | None:
        """One notch cheaper: fewer simulations, then depth, samples, width; None at the
        smallest plan."""
        if self.simulations > 1:
            return replace(self, simulations=self.simulations - 1)
        if self.depth > 1 and not self.mcts:
            return replace(self, depth=self.depth - 1)
        if self.samples > 1:
            return replace(self, samples=self.samples - 1)
        if self.width > 1:
            return replace(self, width=self.width - 1)
        return None


@dataclass(frozen=True)
class RevisePlan:
    rounds: int = 2  # revisions after the first imagined attempt
    samples: int = 1  # world-model predictions per imagined state

    def cost(self, costs: StepCosts, free: int = 0) -> int:
        """Worst-case generated tokens; `free` is not used: the majority it imagines first
        is charged in full (an upper bound when it is free), and its revisions are new
        proposals."""
        return costs.revise(self.rounds, self.samples)

    def cut(self) -> RevisePlan | None:
        """One notch cheaper: fewer samples, then fewer rounds; None below zero rounds."""
        if self.samples > 1:
            return replace(self, samples=self.samples - 1)
        if self.rounds > 0:
            return replace(self, rounds=self.rounds - 1)
        return None


Plan = BranchPlan | RevisePlan
PLANS: dict[str, type[BranchPlan] | type[RevisePlan]] = {"branch": BranchPlan,
                                                         "revise": RevisePlan}


def plan_of(route: str, params: Mapping[str, int] | None = None) -> Plan | None:
    """The plan of `route` with the given fields (from a policy row, the CLI or the graph's
    state); fields the route's plan does not have are ignored. None for `act`."""
    cls = PLANS.get(route)
    if cls is None:
        return None
    names = {f.name for f in fields(cls)}
    return cls(**{k: int(v) for k, v in (params or {}).items() if k in names})


def kept_roots(roots: Sequence[Root], width: int, free: Collection[str]) -> list[Root]:
    """The first `width` of `roots` ((key, action) pairs), taking the roots whose action is
    in `free` (predicted without a call) before the others; the kept ones stay in order."""
    order = sorted(range(len(roots)), key=lambda i: roots[i][1] not in free)
    keep = set(order[: max(0, width)])
    return [r for i, r in enumerate(roots) if i in keep]
