"""Beam search over solution steps, guided by the verifier (Snell et al. 2024, section 5).

A step ends at a blank line (the stop string "\\n\\n"). Round 0 samples N first steps from
the problem; every later round keeps the top N / M active beams (by aggregated step score,
worldmodel.math.verifier.aggregate with ctx.aggregation) and samples M next steps from each,
so each round makes N candidates, each judged as a partial solution. A candidate whose step
holds a \\boxed{} answer (or is empty) is finished and leaves the beam. The last round (round
`max_rounds`, or earlier when the budget could not pay for another full round plus one
finishing completion) samples without the stop string, so every beam is completed. The
answer is then selected among finished solutions by weighted vote (sum of aggregated
scores per answer; `selection` can be naive or majority).

`lookahead` > 0 scores each non-final candidate at the end of a greedy rollout of that many
more steps (temperature 0) instead of at the candidate itself (agent.strategies.lookahead).

Cost of a candidate: 1 generation, plus `lookahead` rollout generations in non-final
rounds, plus c for its judgement. Rounds that do not fit are shrunk (final round) or
replaced by the final round, so the budget is never exceeded; with less than 1 + c left,
one unjudged completion of the best beam is made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from worldplan.agent.strategies.base import Node, SearchContext, StrategyResult
from worldplan.envs.math.answer import extract_answer, extract_boxed
from worldplan.worldmodel.math.prompts import STEP_SEP, continuation, join_steps
from worldplan.worldmodel.math.verifier import aggregate


@dataclass
class Beam:
    steps: list[str]
    scores: list[float]
    key: str | None  # the node of its last step (None for the empty root)


# (problem, ctx, steps, parent key, k steps, max_tokens) -> (steps rolled out, their nodes)
Rollout = Callable[[str, SearchContext, list[str], str, int, int],
                   Awaitable[tuple[list[str], list[Node]]]]


@dataclass
class _Round:
    parents: list[Beam]
    final: bool
    verify: bool = True
    children: list[Node] = field(default_factory=list)


async def beam_search(problem: str, ctx: SearchContext, *, n_beams: int = 4, width: int = 2,
                      max_rounds: int = 6, lookahead: int = 0, rollout: Rollout | None = None,
                      selection: str = "weighted") -> StrategyResult:
    """Step-level beam search with N = n_beams candidates per round, M = width per beam."""
    if lookahead and rollout is None:
        raise ValueError("lookahead > 0 needs a rollout function (agent.strategies.lookahead)")
    name = "lookahead" if lookahead else "beam"
    keep = max(1, n_beams // max(1, width))
    beams = [Beam([], [], None)]
    finished: list[Node] = []
    nodes: list[Node] = []
    stop = "max_rounds"
    for rnd in range(max_rounds):
        parents = ([beams[0]] * n_beams if rnd == 0
                   else [b for b in beams[:keep] for _ in range(width)])
        plan = _plan_round(ctx, parents, last=rnd == max_rounds - 1, lookahead=lookahead)
        if plan is None:
            stop = "budget"
            break
        children = await asyncio.gather(*[
            _expand(problem, ctx, b, rnd, plan, lookahead, rollout) for b in plan.parents])
        made = [c for c in children if c is not None]
        if len(made) < len(children):
            stop = "budget"
        nodes.extend(n for c in made for n in c[1])
        active: list[tuple[Beam, Node]] = []
        for beam, node, done in ((c[0], c[1][0], c[2]) for c in made):
            (finished.append(node) if done or plan.final else active.append((beam, node)))
        active.sort(key=lambda bn: -(bn[1].score if bn[1].score is not None else -1.0))
        for _, node in active[:keep]:
            node.info["kept"] = True
        beams = [b for b, _ in active]
        if plan.final or not beams:
            stop = "done" if plan.final and stop != "budget" else stop
            break
    candidates = finished or [n for n in nodes if n.info.get("kept")][:1]
    idx = await ctx.choose(candidates, selection)
    params: dict[str, Any] = {"n_beams": n_beams, "width": width, "max_rounds": max_rounds,
                              "lookahead": lookahead, "selection": selection,
                              "aggregation": ctx.aggregation}
    return ctx.result(name, candidates[idx] if idx is not None else None, candidates, nodes,
                      stop, params)


def _plan_round(ctx: SearchContext, parents: list[Beam], *, last: bool,
                lookahead: int) -> _Round | None:
    """This round's parents and whether it finishes the beams, within the budget."""
    n = len(parents)
    per = 1 + lookahead
    if not last and ctx.fits(n * per + 1, ctx.step_max_tokens, n + 1):
        return _Round(parents, final=False)
    m = ctx.most(n, verify=True)
    if m > 0:
        return _Round(parents[:m], final=True)
    if ctx.fits(1):
        return _Round(parents[:1], final=True, verify=False)
    return None


async def _expand(problem: str, ctx: SearchContext, beam: Beam, rnd: int, plan: _Round,
                  lookahead: int, rollout: Rollout | None
                  ) -> tuple[Beam, list[Node], bool] | None:
    """Sample the next step of `beam` (the rest of the solution in a final round), judge it.

    Returns the new beam, its nodes (the step first, then any rollout) and whether finished.
    """
    n = len(plan.parents)
    verifies = n if plan.verify else 0
    if plan.final:
        max_tokens = ctx.tokens_each(n, verifies, ctx.max_tokens)
    else:
        max_tokens = ctx.tokens_each(n * (1 + lookahead), verifies, ctx.step_max_tokens)
    messages, extra = continuation(problem, beam.steps)
    s = await ctx.sample(messages, max_tokens=max_tokens, stop=None if plan.final else [STEP_SEP],
                         extra=extra)
    if s is None:
        return None
    text = s.text.strip("\n")
    steps = beam.steps + [text] if text else list(beam.steps)
    done = plan.final or not text or extract_boxed(text) is not None
    full = join_steps(steps)
    node = Node(ctx.key("b"), beam.key, "final" if done else "step", text,
                extract_answer(full, bare=False) if done else None, depth=rnd, tokens=s.tokens,
                info={"full_text": full, "finish_reason": s.finish_reason, "round": rnd})
    out = [node]
    judged = steps
    if lookahead and rollout is not None and not done:
        rolled, more = await rollout(problem, ctx, steps, node.key, lookahead, max_tokens)
        out.extend(more)
        judged = rolled
    sc = (await ctx.judge(problem, judged, complete=done or _finished(judged))
          if plan.verify and judged else None)
    scores = beam.scores + ([sc] if sc is not None else [])
    node.scores = scores
    node.score = aggregate(scores, ctx.aggregation) if sc is not None else None
    return Beam(steps, scores, node.key), out, done


def _finished(steps: list[str]) -> bool:
    return bool(steps) and extract_boxed(steps[-1]) is not None
