"""Search over imagined web states: beam search with the world model, and the
revise-the-plan loop. Everything here is imagination: nothing touches the real page.

- `imagined_beam_search(...)`: the root candidates are imagined by the world model (`samples`
  predictions each) and scored by the progress verifier (mean over the samples, as
  WebDreamer does); the best `beam` paths are expanded `depth - 1` more times (the proposer
  proposes from the imagined state, each proposal is imagined and scored); a path's score is
  its deepest state's. The first action of the best path is chosen. Width, depth, beam and
  samples come from the controller's decision, sized to the step's allowance.
- `revise_plan(...)`: imagine the plan's outcome, score it; while the score is below
  `accept` and rounds are left, the proposer sees the plans so far with their predicted
  outcomes and scores and proposes a revised action. The best-scored attempt is chosen
  (selection over all attempts, not the last: Snell et al. saw revisions undo right answers).

Every call draws from the step's budget (a `Budget.child` of the episode's); a call that
does not fit raises `BudgetExceeded` before it is sent, and the search stops with what it
has (`stop_reason="budget"`). Nodes are flat dicts (traces.schema.SearchNode fields).
MCTS over the same imagined states is agent.web.mcts (it uses `expand` and
`propose_imagined` from here). Not handled: backtracking in the real environment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from worldplan.agent.graph.tree import Keys, SearchOutcome, node
from worldplan.agent.web.proposer import STOPPED, Proposer
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.web.prompts import PlannedAttempt
from worldplan.worldmodel.web.world_model import ProgressJudgement, ProgressVerifier, WorldModel

# a beam-search frontier entry: (score, node key, path of (action, change), root node key)
Entry = tuple[float, str, list[tuple[str, str]], str]


@dataclass
class Imagination:
    """The models used to imagine and judge, and the search's settings."""

    world_model: WorldModel
    verifier: ProgressVerifier
    proposer: Proposer
    goal: str
    obs: str  # the real page's prompt text
    history: list[str]  # the real actions taken so far


async def _imagine_and_score(im: Imagination, path: list[tuple[str, str]], action: str,
                             samples: int, budget: Budget
                             ) -> tuple[list[str], ProgressJudgement, int]:
    """Predict `samples` changes after `path` + action, score each imagined trajectory."""
    preds = await im.world_model.predict(im.obs, action, imagined=path, n=samples,
                                         budget=budget)
    trajectories = [[*path, (action, p.text)] for p in preds]
    prog = await im.verifier.score(im.goal, im.obs, trajectories, budget=budget)
    return [p.text for p in preds], prog, sum(p.tokens for p in preds)


async def expand(im: Imagination, keys: Keys, parent: str, path: list[tuple[str, str]],
                  action: str, depth: int, samples: int, budget: Budget,
                  nodes: list[dict[str, Any]]) -> tuple[str, float, str] | None:
    """Imagine `action` after `path`; record the imagined state; (key, score, prediction)."""
    try:
        preds, prog, tokens = await _imagine_and_score(im, path, action, samples, budget)
    except STOPPED:
        return None
    key = keys("w")
    nodes.append(node(key, parent, "imagined_state", preds[0], step=keys.step, depth=depth,
                      score=prog.score, scores=prog.samples, tokens=tokens, answer=action,
                      info={"action": action, "predictions": preds,
                            "path": [a for a, _ in path] + [action],
                            "verifier_tokens": prog.completion_tokens}))
    return key, prog.score, preds[0]


async def propose_imagined(im: Imagination, keys: Keys, parent: str,
                           path: list[tuple[str, str]], width: int, depth: int, budget: Budget,
                           nodes: list[dict[str, Any]]) -> list[tuple[str, str]] | None:
    """Propose `width` next actions from the imagined state after `path`; record them as
    proposal nodes under `parent`; the readable ones as (node key, action). None: the
    budget stopped the proposal."""
    try:
        props = await im.proposer.propose(
            im.obs, im.history + [f"{a} (imagined: {c[:120]})" for a, c in path], width,
            budget=budget)
    except STOPPED:
        return None
    out = []
    for p in props:
        pk = keys("p")
        nodes.append(node(pk, parent, "proposal", p.raw, step=keys.step, depth=depth,
                          tokens=p.tokens, answer=p.action or "",
                          info={"error": p.error, "imagined": True}))
        if p.action is not None:
            out.append((pk, p.action))
    return out


async def imagined_beam_search(im: Imagination, roots: Sequence[tuple[str, str]], keys: Keys,
                      budget: Budget, *, depth: int = 1, beam: int = 2, width: int = 2,
                      samples: int = 1) -> SearchOutcome:
    """Beam search over imagined states from root candidates (key, action)."""
    nodes: list[dict[str, Any]] = []
    stop = "done"
    level: list[Entry] = []
    made = await asyncio.gather(*[expand(im, keys, k, [], a, 1, samples, budget, nodes)
                                  for k, a in roots])
    for (_, a), m in zip(roots, made, strict=True):
        if m is None:
            stop = "budget"
        else:
            level.append((m[1], m[0], [(a, m[2])], m[0]))
    explored = list(level)
    for d in range(2, depth + 1):
        level.sort(key=lambda e: -e[0])
        nxt: list[Entry] = []
        for _score, key, path, root in level[:beam]:
            props = await propose_imagined(im, keys, key, path, width, d, budget, nodes)
            if props is None:
                stop = "budget"
                break
            for pk, action in props:
                m = await expand(im, keys, pk, path, action, d, samples, budget, nodes)
                if m is None:
                    stop = "budget"
                    continue
                nxt.append((m[1], m[0], [*path, (action, m[2])], root))
        if not nxt:
            break
        level = nxt
        explored += nxt
    if not explored:
        return SearchOutcome(None, None, None, "", nodes, stop)
    score, _key, path, root = max(explored, key=lambda e: e[0])  # first of equals
    first_action, first_prediction = path[0]
    return SearchOutcome(first_action, root, score, first_prediction, nodes, stop)


async def revise_plan(im: Imagination, root: tuple[str, str], keys: Keys, budget: Budget, *,
                      rounds: int = 2, accept: float = 0.7, samples: int = 1) -> SearchOutcome:
    """Imagine the plan, and revise it while its score is below `accept`."""
    nodes: list[dict[str, Any]] = []
    attempts: list[tuple[str, str, float, str]] = []  # (node key, action, score, prediction)
    stop = "done"
    parent, action = root
    for r in range(rounds + 1):
        m = await expand(im, keys, parent, [], action, 1, samples, budget, nodes)
        if m is None:
            stop = "budget"
            break
        attempts.append((m[0], action, m[1], m[2]))
        if m[1] >= accept or r == rounds:
            break
        shown = [PlannedAttempt(a, pred, sc) for _, a, sc, pred in attempts]
        try:
            props = await im.proposer.propose(im.obs, im.history, 1, budget=budget,
                                              attempts=shown)
        except STOPPED:
            stop = "budget"
            break
        p = props[0]
        pk = keys("r")
        nodes.append(node(pk, m[0], "revision", p.raw, step=keys.step, depth=r + 1,
                          tokens=p.tokens, answer=p.action or "",
                          info={"error": p.error, "round": r + 1}))
        if p.action is None:
            break  # an unreadable revision: keep the best plan so far
        parent, action = pk, p.action
    if not attempts:
        return SearchOutcome(None, None, None, "", nodes, stop)
    key, action, score, pred = max(attempts, key=lambda a: a[2])
    return SearchOutcome(action, key, score, pred, nodes, stop)
