"""Imagined web states, and two searches over them: beam search with the world model, and the
revise-the-plan loop. Everything here is imagination: nothing touches the real page.

- `expand(...)`: imagine an action from an imagined state (`samples` world-model
  predictions) and score it with the progress verifier (mean over the samples, as WebDreamer
  does); returns a typed `Imagined`. When the parent's imagined page is known (the world
  model returned `Prediction.page`), the prediction is made against that page (the path is
  already in it); else against the real page with the imagined path passed along. A sample
  whose change could not be applied (`Prediction.error`) scores 0.0 without a verifier call
  (a wrong prediction, not a dropped one); a state with no applicable sample is an error
  state, recorded with its error, that searches never expand. With a transposition `table`
  (agent.web.transpositions.state_key -> `Imagined`), a state whose key is already there
  is not judged again: it is
  recorded as a `transposition` node of the state it reaches (`Imagined.shared`). When the
  budget stops the verifier after the world model answered, the predictions are recorded as
  an `unjudged` node (nothing paid for leaves the trace) and the expansion returns None.
- `propose_imagined(...)`: `width` proposals from an imagined state, against its page when
  known (history: the real actions + the imagined ones); the same canonical action is kept
  once (the first), duplicates are recorded and add to its count; its prior (`priors`) is
  the proposer's policy (softmax of the logprobs, else the share of samples) mixed with a
  uniform floor.
- `imagined_beam_search(...)`: the best `beam` paths are expanded `depth - 1` more times; the
  first action of the best-scored path is chosen. `revise_plan(...)`: imagine the plan, and
  while its score is below `accept` the proposer revises it; the best attempt is chosen
  (selection over all attempts: Snell et al. saw revisions undo right answers).

Every call draws from the step's budget; a call that does not fit raises `BudgetExceeded`
before it is sent, and the search stops with what it has (`stop_reason="budget"`). Nodes
are flat dicts (traces.schema.SearchNode fields). MCTS is agent.web.mcts.
Not handled: backtracking in the real environment; judging an imagined page by itself (the
verifier judges the real page and the imagined path of changes).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from worldplan.agent.graph.tree import Keys, SearchOutcome, node
from worldplan.agent.web.proposer import STOPPED, Proposer
from worldplan.agent.web.transpositions import state_key
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.web.prompts import PlannedAttempt
from worldplan.worldmodel.web.world_model import PagePredictor, Prediction, ProgressJudge

ImaginedPath = list[tuple[str, str]]  # (action, predicted change) from the real page


@dataclass
class Imagination:
    """The models used to imagine and judge, and the real step they start from."""

    world_model: PagePredictor
    verifier: ProgressJudge
    proposer: Proposer
    goal: str
    obs: str  # the real page's prompt text
    history: list[str]  # the real actions taken so far


class Imagined(NamedTuple):
    """An imagined state: its node, the verifier's score, and what the world model said."""

    key: str  # the imagined_state node's key (of the state reached, when `shared`)
    score: float  # the verifier's mean over the samples (0.0 for a sample not applied)
    prediction: str  # the predicted change (the first applicable sample's, else the first)
    page: str  # the imagined page's prompt text ("": unknown)
    error: str  # why no sample could be applied ("": one could); never expanded if set
    state: str  # the transposition key (`state_key`)
    shared: bool = False  # a transposition: the state `key` was reached another way first
    via: str = ""  # when shared: the transposition node recorded for this action


class Entry(NamedTuple):
    """A beam-search path: its score, its last state, and its root candidate's state."""

    score: float
    key: str
    path: ImaginedPath
    root: str
    page: str  # the last state's imagined page ("": unknown)
    error: bool  # the last state could not be imagined: never expanded


class Proposed(NamedTuple):
    key: str  # the proposal node's key
    action: str  # canonical
    prior: float  # in [0, 1], summing to 1 over a state's distinct proposals


PRIOR_FLOOR = 0.25  # share of a prior spread evenly, so unlikely proposals still get tried


def priors(counts: Sequence[int], logprobs: Sequence[float | None]) -> list[float]:
    """A prior per distinct proposal: the proposer's policy over them (softmax of their
    logprobs when all are known, else their share of the samples), mixed with
    PRIOR_FLOOR of the uniform one."""
    k = len(counts)
    if k == 0:
        return []
    if all(lp is not None for lp in logprobs):
        top = max(lp for lp in logprobs if lp is not None)
        policy = [math.exp((lp or 0.0) - top) for lp in logprobs]
    else:
        policy = [float(max(0, c)) for c in counts]
    total = sum(policy)
    return [(1 - PRIOR_FLOOR) * (w / total if total else 1 / k) + PRIOR_FLOOR / k
            for w in policy]


async def _predict(im: Imagination, path: ImaginedPath, page: str, action: str, samples: int,
                   budget: Budget) -> list[Prediction]:
    # the real actions so far, then the imagined ones, as the proposer sees them
    history = im.history + [a for a, _ in path]
    if page:  # the imagined page already shows the path
        return await im.world_model.predict(page, action, n=samples, budget=budget,
                                            history=history)
    return await im.world_model.predict(im.obs, action, imagined=path, n=samples,
                                        budget=budget, history=im.history)


async def expand(im: Imagination, keys: Keys, parent: str, path: ImaginedPath, action: str,
                 depth: int, samples: int, budget: Budget, nodes: list[dict[str, Any]], *,
                 page: str = "", table: dict[str, Imagined] | None = None) -> Imagined | None:
    """Imagine `action` from the state after `path` (whose page is `page`, "" unknown);
    record it under `parent`. None: the budget stopped it."""
    try:
        preds = await _predict(im, path, page, action, samples, budget)
    except STOPPED:
        return None
    ok = [p for p in preds if not p.error]
    first = ok[0] if ok else None
    error = "" if first else (preds[0].error if preds else "no prediction")
    actions = [a for a, _ in path] + [action]
    state = state_key(depth, first.page if first else "", actions)
    tokens = sum(p.tokens for p in preds)
    info: dict[str, Any] = {"action": action, "predictions": [p.text for p in preds],
                            "path": actions, "page_known": bool(first and first.page)}
    if any(p.error for p in preds):
        info["errors"] = [p.error for p in preds]
    hit = table.get(state) if table is not None and first else None
    if hit is not None:
        via = keys("t")
        nodes.append(node(via, parent, "transposition", first.text if first else "",
                          step=keys.step, depth=depth, score=hit.score, tokens=tokens,
                          answer=action, info={**info, "transposition_of": hit.key}))
        # this action's own prediction; key, score and page are the state's it reached
        return hit._replace(shared=True, via=via, prediction=first.text if first else "")
    scores, verifier_tokens = [0.0] * len(preds), 0
    if ok:
        try:
            prog = await im.verifier.score(im.goal, im.obs, [[*path, (action, p.text)]
                                                             for p in ok], budget=budget,
                                           history=im.history)
        except STOPPED:  # the predictions were made and paid for: keep them in the trace
            nodes.append(node(keys("u"), parent, "unjudged", ok[0].text, step=keys.step,
                              depth=depth, tokens=tokens, answer=action,
                              info={**info, "stopped": "budget"}))
            return None
        judged = iter(prog.samples)
        scores = [0.0 if p.error else next(judged) for p in preds]
        verifier_tokens = prog.completion_tokens
    score = sum(scores) / len(scores) if scores else 0.0
    if error:
        info["error"] = error
    key = keys("w")
    text = (first or preds[0]).text if preds else ""  # an error state shows what was said
    nodes.append(node(key, parent, "imagined_state", text, step=keys.step, depth=depth,
                      score=score, scores=scores, tokens=tokens, answer=action,
                      info={**info, "verifier_tokens": verifier_tokens}))
    made = Imagined(key, score, text, first.page if first else "", error, state)
    if table is not None and not error:
        table[state] = made
    return made


async def propose_imagined(im: Imagination, keys: Keys, parent: str, path: ImaginedPath, width: int,
                           depth: int, budget: Budget, nodes: list[dict[str, Any]], *,
                           page: str = "") -> list[Proposed] | None:
    """`width` next actions from the imagined state after `path` (page `page`, "" unknown),
    recorded as proposal nodes under `parent`; the distinct readable ones, first seen first.
    None: the budget stopped the proposal."""
    history = (im.history + [a for a, _ in path] if page else
               im.history + [f"{a} (imagined: {c[:120]})" for a, c in path])
    try:
        props = await im.proposer.propose(page or im.obs, history, width, budget=budget)
    except STOPPED:
        return None
    first: dict[str, dict[str, Any]] = {}  # action -> its first proposal node
    counts: dict[str, int] = {}
    logprobs: dict[str, float | None] = {}
    for p in props:
        rec = node(keys("p"), parent, "proposal", p.raw, step=keys.step, depth=depth,
                   tokens=p.tokens, answer=p.action or "",
                   info={"error": p.error, "imagined": True})
        nodes.append(rec)
        if p.action is None:
            continue
        if p.action in first:
            rec["info"]["duplicate_of"] = first[p.action]["key"]
        else:
            first[p.action] = rec
            logprobs[p.action] = getattr(p, "logprob", None)
        counts[p.action] = counts.get(p.action, 0) + int(getattr(p, "count", 1))
    acts = list(first)
    out = []
    for a, pr in zip(acts, priors([counts[a] for a in acts], [logprobs[a] for a in acts]),
                     strict=True):
        first[a]["info"].update({"prior": round(pr, 4), "count": counts[a]})
        out.append(Proposed(first[a]["key"], a, pr))
    return out


async def imagined_beam_search(im: Imagination, roots: Sequence[tuple[str, str]], keys: Keys,
                               budget: Budget, *, depth: int = 1, beam: int = 2,
                               width: int = 2, samples: int = 1) -> SearchOutcome:
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
            level.append(Entry(m.score, m.key, [(a, m.prediction)], m.key, m.page,
                               bool(m.error)))
    explored = list(level)
    for d in range(2, depth + 1):
        level.sort(key=lambda e: -e.score)
        nxt: list[Entry] = []
        for e in [e for e in level if not e.error][:beam]:
            props = await propose_imagined(im, keys, e.key, e.path, width, d, budget, nodes,
                                           page=e.page)
            if props is None:
                stop = "budget"
                break
            for pk, action, _prior in props:
                m = await expand(im, keys, pk, e.path, action, d, samples, budget, nodes,
                                 page=e.page)
                if m is None:
                    stop = "budget"
                    continue
                nxt.append(Entry(m.score, m.key, [*e.path, (action, m.prediction)], e.root,
                                 m.page, bool(m.error)))
        if not nxt:
            break
        level = nxt
        explored += nxt
    if not explored:
        return SearchOutcome(None, None, None, "", nodes, stop)
    best = max(explored, key=lambda e: e.score)  # first of equals
    first_action, first_prediction = best.path[0]
    return SearchOutcome(first_action, best.root, best.score, first_prediction, nodes, stop)


async def revise_plan(im: Imagination, root: tuple[str, str], keys: Keys, budget: Budget, *,
                      rounds: int = 2, accept: float = 0.7, samples: int = 1) -> SearchOutcome:
    """Imagine the plan, and revise it while its score is below `accept`."""
    nodes: list[dict[str, Any]] = []
    attempts: list[tuple[str, str, float, str]] = []  # (node key, action, score, prediction)
    shown: list[PlannedAttempt] = []  # what the proposer is shown of them
    stop = "done"
    parent, action = root
    for r in range(rounds + 1):
        m = await expand(im, keys, parent, [], action, 1, samples, budget, nodes)
        if m is None:
            stop = "budget"
            break
        attempts.append((m.key, action, m.score, m.prediction))
        shown.append(PlannedAttempt(action, m.prediction if not m.error else
                                    f"(the predicted change could not be applied: {m.error})",
                                    m.score))
        if m.score >= accept or r == rounds:
            break
        try:
            props = await im.proposer.propose(im.obs, im.history, 1, budget=budget,
                                              attempts=shown)
        except STOPPED:
            stop = "budget"
            break
        p = props[0]
        pk = keys("r")
        nodes.append(node(pk, m.key, "revision", p.raw, step=keys.step, depth=r + 1,
                          tokens=p.tokens, answer=p.action or "",
                          info={"error": p.error, "round": r + 1}))
        if p.action is None:
            break  # an unreadable revision: keep the best plan so far
        parent, action = pk, p.action
    if not attempts:
        return SearchOutcome(None, None, None, "", nodes, stop)
    key, action, score, pred = max(attempts, key=lambda a: a[2])
    return SearchOutcome(action, key, score, pred, nodes, stop)
