"""Monte Carlo tree search over imagined web states (the `branch` route with
`simulations > 0`). Everything here is imagination: nothing touches the real page.

The tree's nodes are imagined states: the root's children are the step's distinct proposed
actions, each imagined by the world model and scored by the progress verifier (as in
agent.web.imagination.imagined_beam_search's first level). Then `simulations` times:
- select: from the root, descend to the child maximising UCT
  (mean value + c * sqrt(ln(parent visits) / visits)) until an unexpanded state;
- expand: the proposer proposes `width` actions from that imagined state, each is imagined
  and scored (`samples` predictions, the verifier's mean), and becomes a child;
- back up: the best new child's score is added to every state on the selected path.
A state at `depth`, or whose action ends the task (`stop(...)`), is a leaf that is never
expanded; when no expandable state is left, the search stops early (`stop_reason="done"`).
The chosen action is the root child with the most visits (ties: the higher mean value,
then the first proposed), as usual for MCTS; its predicted change is passed on so the
world model's accuracy is scored against the real page.

Every call draws from the step's budget; a call that does not fit ends the search with the
tree built so far (`stop_reason="budget"`). The nodes are the flat records of
agent.web.imagination (`imagined_state`, `proposal`) with `visits` and `value` in their info.
Not handled: rollouts to the end of the task (the verifier's score stands in for them),
progressive widening.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from worldplan.agent.graph.tree import Keys, SearchOutcome
from worldplan.agent.web.imagination import Imagination, expand, propose_imagined
from worldplan.worldmodel.llm.accounting import Budget


@dataclass
class TreeState:
    key: str  # the imagined_state node's key
    path: list[tuple[str, str]]  # (action, predicted change) from the real page
    score: float  # the verifier's score of this imagined state
    depth: int
    visits: int = 1  # the expansion that created it counts as its first visit
    value: float = 0.0  # sum of backed-up scores
    children: list[TreeState] = field(default_factory=list)
    expanded: bool = False

    @property
    def mean(self) -> float:
        return self.value / max(1, self.visits)

    @property
    def terminal(self) -> bool:
        return self.path[-1][0].startswith("stop(")


def uct(child: TreeState, parent_visits: int, c: float) -> float:
    return child.mean + c * math.sqrt(math.log(max(1, parent_visits)) / child.visits)


def _expandable(s: TreeState, depth: int) -> bool:
    return s.depth < depth and not s.terminal and (
        not s.expanded or any(_expandable(ch, depth) for ch in s.children))


def select_path(roots: Sequence[TreeState], depth: int, c: float) -> list[TreeState]:
    """The path from a root child down to the state to expand (empty: none is left)."""
    total = sum(r.visits for r in roots)
    level = [r for r in roots if _expandable(r, depth)]
    path: list[TreeState] = []
    while level:
        best = max(level, key=lambda s: uct(s, total, c))  # first of equals
        path.append(best)
        if not best.expanded:
            return path
        total = best.visits
        level = [ch for ch in best.children if _expandable(ch, depth)]
    return []


async def mcts_search(im: Imagination, roots: Sequence[tuple[str, str]], keys: Keys,
                      budget: Budget, *, simulations: int = 4, depth: int = 2, width: int = 2,
                      samples: int = 1, c: float = 1.0) -> SearchOutcome:
    """MCTS over imagined states from root candidates (node key, action)."""
    nodes: list[dict[str, Any]] = []
    stop = "done"
    made = await asyncio.gather(*[expand(im, keys, k, [], a, 1, samples, budget, nodes)
                                  for k, a in roots])
    tree: list[TreeState] = []
    for (_, a), m in zip(roots, made, strict=True):
        if m is None:
            stop = "budget"
        else:
            tree.append(TreeState(m[0], [(a, m[2])], m[1], 1, value=m[1]))
    sims = 0
    while tree and sims < simulations:
        path = select_path(tree, depth, c)
        if not path:
            break  # every state is a leaf: the tree is complete to `depth`
        leaf = path[-1]
        props = await propose_imagined(im, keys, leaf.key, leaf.path, width, leaf.depth + 1,
                                       budget, nodes)
        if props is None:
            stop = "budget"
            break
        leaf.expanded = True
        for pk, action in props:
            m = await expand(im, keys, pk, leaf.path, action, leaf.depth + 1, samples, budget,
                             nodes)
            if m is None:
                stop = "budget"
                break
            leaf.children.append(TreeState(m[0], [*leaf.path, (action, m[2])], m[1],
                                           leaf.depth + 1, value=m[1]))
        sims += 1
        if leaf.children:
            value = max(ch.score for ch in leaf.children)
            for s in path:
                s.visits += 1
                s.value += value
        if stop == "budget":
            break
    if not tree:
        return SearchOutcome(None, None, None, "", nodes, stop)
    _annotate(tree, nodes)
    best = max(tree, key=lambda s: (s.visits, s.mean))  # first of equals
    action, prediction = best.path[0]
    return SearchOutcome(action, best.key, best.mean, prediction, nodes, stop)


def _annotate(tree: Sequence[TreeState], nodes: list[dict[str, Any]]) -> None:
    """Write each imagined state's visits and mean value into its node record."""
    by_key = {n["key"]: n for n in nodes}
    stack = list(tree)
    while stack:
        s = stack.pop()
        by_key[s.key]["info"].update({"visits": s.visits, "value": s.mean, "mcts": True})
        stack.extend(s.children)
