"""Monte Carlo tree search over imagined web states (the `branch` route with
`simulations > 0`). Everything here is imagination: nothing touches the real page.

The tree's root is the real page; its candidates are the step's distinct proposed actions
(priors: their share of the proposals). Every state's candidates are proposed once, the
first time a simulation reaches it (`width` samples, deduplicated, agent.web.imagination
`propose_imagined`), against its imagined page when the world model gave one. First every
root candidate is imagined and scored (as imagined_beam_search's first level); then each
of `simulations` simulations:
- select: from the root, take the candidate with the highest PUCT score
  Q + c * prior * sqrt(N(state)) / (1 + N(child)), where an unexpanded candidate's Q is the
  state's own mean (first-play urgency), until an unexpanded candidate or a leaf;
- expand: imagine that ONE candidate (`samples` predictions, the verifier's mean) as a new
  child; a leaf (depth `depth`, a `stop(...)` action, an error state, or a state with no
  readable proposal) is not expanded and gives its own score again;
- back up: the new child's score (or the leaf's) is added to every state on the path.
So the values decide which candidates are imagined, and visit counts follow the values.
A transposition table (agent.web.imagination.state_key: the normalised imagined page at a
depth, or the action path when pages are unknown) makes two action orders that reach the
same imagined page share one evaluated state (one verifier call, one subtree); the hits
are counted in the state's node info (`transpositions`) and recorded as `transposition`
nodes. The chosen action is the root candidate with the most visits (ties: the higher mean,
then the first proposed); its predicted change is passed on so the world model's accuracy
is scored against the real page. A chosen root action whose state another root action
reached first is returned with its own (transposition) node and its own prediction.

Cost: each simulation makes at most one proposal request (`width` samples) and imagines at
most one state (agent.graph.budgets.StepCosts.mcts). Every call draws from the step's
budget; a call that does not fit ends the search with the tree built so far
(`stop_reason="budget"`). Nodes stay flat records (`visits`, `value`, `transpositions` in
their info). Not handled: rollouts to the end of the task (the verifier's score stands in
for them), progressive widening beyond the `width` proposals, value sharing between
transpositions at different depths (the depth is part of the key, so the tree has no
cycles), concurrent simulations.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from worldplan.agent.graph.tree import Keys, SearchOutcome
from worldplan.agent.web.imagination import (
    Imagination,
    Imagined,
    ImaginedPath,
    Proposed,
    expand,
    priors,
    propose_imagined,
)
from worldplan.agent.web.plans import MCTS_DEPTH
from worldplan.worldmodel.llm.accounting import Budget


@dataclass
class TreeState:
    """A state of the tree: the root (the real page, key "") or an imagined state."""

    key: str  # the imagined_state node's key ("" for the root)
    path: ImaginedPath  # (action, predicted change) from the real page
    page: str  # the imagined page's prompt text ("": unknown, or the root)
    score: float  # the verifier's score of this state (0.0 for an error state)
    depth: int
    error: str = ""  # the world model's change could not be applied: never expanded
    visits: int = 0
    value: float = 0.0  # sum of backed-up scores
    candidates: list[Proposed] | None = None  # None: not proposed from yet
    children: dict[str, TreeState] = field(default_factory=dict)  # action -> state
    transpositions: int = 0  # times another path reached this state

    @property
    def mean(self) -> float:
        return self.value / self.visits if self.visits else self.score

    def leaf(self, depth: int) -> bool:
        """Never expanded: at `depth`, an error, a finished task, or nothing to propose."""
        return (bool(self.error) or self.depth >= depth or self.candidates == []
                or bool(self.path) and self.path[-1][0].startswith("stop("))


def puct(q: float, prior: float, parent_visits: int, visits: int, c: float) -> float:
    return q + c * prior * math.sqrt(parent_visits) / (1 + visits)


def select(s: TreeState, c: float) -> Proposed:
    """The candidate of `s` with the highest PUCT score (first of equals); an unexpanded
    one is valued at `s`'s mean."""
    assert s.candidates, "select needs candidates"

    def score(p: Proposed) -> float:
        ch = s.children.get(p.action)
        return puct(ch.mean if ch else s.mean, p.prior, max(1, s.visits),
                    ch.visits if ch else 0, c)

    return max(s.candidates, key=score)


def backup(path: Sequence[TreeState], value: float) -> None:
    for s in path:
        s.visits += 1
        s.value += value


def most_visited(root: TreeState) -> tuple[Proposed, TreeState] | None:
    """The root candidate with the most visits (ties: higher mean, then first proposed)."""
    made = [(p, root.children[p.action]) for p in root.candidates or []
            if p.action in root.children]
    return max(made, key=lambda m: (m[1].visits, m[1].mean)) if made else None


@dataclass
class _Search:
    im: Imagination
    keys: Keys
    budget: Budget
    depth: int
    width: int
    samples: int
    c: float
    nodes: list[dict[str, Any]] = field(default_factory=list)
    table: dict[str, Imagined] = field(default_factory=dict)  # state key -> first reached
    states: dict[str, TreeState] = field(default_factory=dict)  # node key -> state
    # root action -> (its transposition node, its prediction), when its state was shared
    root_via: dict[str, tuple[str, str]] = field(default_factory=dict)

    async def grow(self, s: TreeState, p: Proposed) -> tuple[TreeState, float] | None:
        """Imagine candidate `p` of `s` as a child; (child, value to back up). None: the
        budget stopped it."""
        m = await expand(self.im, self.keys, p.key, s.path, p.action, s.depth + 1,
                         self.samples, self.budget, self.nodes, page=s.page, table=self.table)
        if m is None:
            return None
        if m.shared:
            child = self.states[m.key]
            child.transpositions += 1
            if s.depth == 0:  # a root action that reached another root action's state
                self.root_via[p.action] = (m.via, m.prediction)
        else:
            child = TreeState(m.key, [*s.path, (p.action, m.prediction)], m.page, m.score,
                              s.depth + 1, m.error)
            self.states[m.key] = child
        s.children[p.action] = child
        return child, child.mean

    async def simulate(self, root: TreeState) -> bool:
        """One selection, expansion and backup. False: the budget stopped it."""
        path, s = [root], root
        while not s.leaf(self.depth):
            if s.candidates is None:
                props = await propose_imagined(self.im, self.keys, s.key, s.path, self.width,
                                               s.depth + 1, self.budget, self.nodes,
                                               page=s.page)
                if props is None:
                    return False
                s.candidates = props
                continue  # none readable: a leaf
            p = select(s, self.c)
            child = s.children.get(p.action)
            if child is None:
                made = await self.grow(s, p)
                if made is None:
                    return False
                backup([*path, made[0]], made[1])
                return True
            path.append(child)
            s = child
        backup(path, s.score)
        return True


def root_priors(cands: Sequence[dict[str, Any]], roots: Sequence[tuple[str, str]]
                ) -> list[float]:
    """The root candidates' priors from the step's proposal nodes (flat records): their
    counts (info `count`, else 1 per node) and logprobs (info `logprob`), as `priors`."""
    counts = [sum(int((c.get("info") or {}).get("count", 1)) for c in cands
                  if c["answer"] == a) for _, a in roots]
    info = {c["key"]: c.get("info") or {} for c in cands}
    return priors(counts, [info.get(k, {}).get("logprob") for k, _ in roots])


async def mcts_search(im: Imagination, roots: Sequence[tuple[str, str]], keys: Keys,
                      budget: Budget, *, simulations: int = 4, depth: int = MCTS_DEPTH,
                      width: int = 2, samples: int = 1, c: float = 1.0,
                      prior: Sequence[float] | None = None) -> SearchOutcome:
    """MCTS over imagined states from distinct root candidates (proposal node key, action)
    with their priors (`root_priors`; default: equal)."""
    search = _Search(im, keys, budget, depth, width, samples, c)
    ps = list(prior) if prior is not None else [1 / max(1, len(roots))] * len(roots)
    root = TreeState("", [], "", 0.0, 0, candidates=[Proposed(k, a, p) for (k, a), p
                                                     in zip(roots, ps, strict=True)])
    stop, run = "done", 0
    assert root.candidates is not None
    made = await asyncio.gather(*[search.grow(root, p) for p in root.candidates])
    for m in made:
        if m is not None:
            backup([root, m[0]], m[1])
    if any(m is None for m in made):
        stop = "budget"
    while stop == "done" and root.children and run < simulations:
        if await search.simulate(root):
            run += 1
        else:
            stop = "budget"
    best = most_visited(root)
    if best is None:
        return SearchOutcome(None, None, None, "", search.nodes, stop)
    p, state = best
    _annotate(search, {"simulations": run, "states": len(search.states),
                       "transposition_hits": sum(s.transpositions
                                                 for s in search.states.values()),
                       "depth_reached": max(s.depth for s in search.states.values()),
                       "stop": stop}, state.key)
    key, prediction = search.root_via.get(p.action, (state.key, state.path[0][1]))
    return SearchOutcome(p.action, key, state.mean, prediction, search.nodes, stop)


def _annotate(search: _Search, stats: dict[str, Any], chosen: str) -> None:
    """Write each state's visits, mean value and transpositions into its node record, and
    the search's statistics into the chosen one's."""
    for n in search.nodes:
        s = search.states.get(n["key"]) if n["kind"] == "imagined_state" else None
        if s is not None:
            n["info"].update({"visits": s.visits, "value": round(s.mean, 4), "mcts": True,
                              "transpositions": s.transpositions})
        if n["key"] == chosen:
            n["info"]["mcts_search"] = stats
