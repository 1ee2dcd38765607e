"""Best-of-N: sample N full solutions, judge each, select one answer.

Selection is naive (highest score), majority (most frequent answer, no verifier calls) or
weighted (largest summed score per answer); see agent.strategies.selection.

Planning: with G generation-equivalents, N = G solutions (G // 2 when a charged verifier
judges each, `SearchContext.judge_paths`); an explicit `n` caps N; with no limit at all,
N = n (default 4). Samples of the prompt go out as n-sample requests (at most
`PER_REQUEST` each). Under a token or FLOPs limit, samples go out in waves: each wave is
as many samples as fit at their worst case (the prompt, ctx.max_tokens each, and their
judgements if charged); unused reservations come back after each wave, and waves go on
until not one more sample fits, so the budget is used to within one sample. A PRM scores
every step of a solution (its blank-line paragraphs), aggregated by ctx.aggregation.
With `agree` (a probability), samples go out in waves of `wave` and sampling stops once
the answers agree (`answers_agree`: adaptive consistency); the rest of the budget is left.
Curves at several N come from prefixes of ONE max-N run (benchmarks/math_scaling.py) with
`select_prefix`, which applies the same plan to a prefix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from worldplan.agent.control.agreement import leaders_agreed, tally
from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.records import Node, StrategyResult
from worldplan.agent.strategies.selection import select
from worldplan.envs.math.answer import extract_answer
from worldplan.envs.math.equivalence import Equal, group_answers, string_equal
from worldplan.worldmodel.math.prompts import solver_messages
from worldplan.worldmodel.math.verifier import split_steps

DEFAULT_N = 4
PER_REQUEST = 64  # samples per request at most


def plan_best_of_n(generations: int | None, *, selection: str, judge_cost: int,
                   n: int | None = None) -> tuple[int, bool]:
    """(samples N, judge them?) for a generation budget (None: unlimited) when judging a
    solution costs `judge_cost` generation-equivalents (0: a free verifier)."""
    verify = selection != "majority"
    if generations is None:
        wanted = n or DEFAULT_N
    elif verify and judge_cost and generations < 1 + judge_cost:
        wanted, verify = min(max(generations, 0), 1), False  # one unjudged sample
    else:
        wanted = max(generations, 0) // (1 + (judge_cost if verify else 0))
    return (min(wanted, n) if n else wanted), verify


async def best_of_n(problem: str, ctx: SearchContext, *, n: int | None = None,
                    selection: str = "weighted", agree: float | None = None,
                    wave: int = 2) -> StrategyResult:
    """Sample up to n solutions within the budget, judge them, and select an answer; with
    `agree`, in waves of `wave` samples, stopping once the answers agree (what is not
    spent stays in ctx.budget)."""
    name = f"best_of_n_{selection}"
    wanted, verify = plan_best_of_n(ctx.budget.generations_left, selection=selection,
                                    judge_cost=ctx.judge_paths, n=n)
    verify = verify and ctx.verifier is not None
    bounded = n is not None or ctx.budget.generations_left is not None or not (
        ctx.budget.needs_prompt_count or ctx.budget.max_tokens is not None)
    messages = solver_messages(problem)
    prompt = await ctx.prompt_tokens(messages)
    nodes: list[Node] = []
    stop = "done"
    while not bounded or len(nodes) < wanted:
        want = wanted - len(nodes) if bounded else PER_REQUEST * 4
        if agree is not None:
            want = min(want, max(1, wave))
        k = ctx.most(want, prompt=prompt, tokens_each=ctx.max_tokens, judged=verify)
        if k == 0:
            stop = "budget" if bounded else "done"
            break
        sizes = [min(PER_REQUEST, k - i) for i in range(0, k, PER_REQUEST)]
        waves = await asyncio.gather(*[ctx.sample(messages, n=m, max_tokens=ctx.max_tokens)
                                       for m in sizes])
        new = [Node(ctx.key("s"), None, "solution", s.text, extract_answer(s.text, bare=False),
                    tokens=s.tokens, info={"finish_reason": s.finish_reason,
                                           "sample": s.about()})
               for wave in waves if wave is not None for s in wave]
        if verify:
            await asyncio.gather(*[ctx.score(nd, problem, split_steps(nd.text), complete=True,
                                             asked=messages) for nd in new])
        nodes.extend(new)
        if len(new) < k:
            stop = "budget"
            break
        if agree is not None and await asyncio.to_thread(
                answers_agree, nodes, agree, ctx.same_answer, verify):
            stop = "agreed"
            break
    idx = await ctx.choose(nodes, selection)
    params: dict[str, Any] = {"n": len(nodes), "selection": selection, "verified": verify,
                              "agree": agree}
    return ctx.result(name, nodes[idx] if idx is not None else None, nodes, nodes, stop, params)


def select_prefix(candidates: Sequence[Node], generations: int, *, selection: str,
                  judge_cost: int = 0, equal: Equal = string_equal) -> Node | None:
    """The choice best-of-N would make with `generations`, from a longer run's candidates
    (in sampling order, each judged): the plan's N first candidates, scores dropped when the
    plan could not afford judging them."""
    n, verify = plan_best_of_n(generations, selection=selection, judge_cost=judge_cost)
    prefix = list(candidates[:n])
    if not verify:
        prefix = [Node(c.key, c.parent_key, c.kind, c.text, c.answer, None, [], c.depth,
                       c.tokens) for c in prefix]
    idx = select(prefix, selection, equal)
    return None if idx is None else prefix[idx]


def answers_agree(nodes: Sequence[Node], threshold: float, equal: Equal,
                  weighted: bool) -> bool:
    """The sequential test of agent.banks.allocation (adaptive consistency): the leading
    answer's (score-weighted) votes against the second's, Beta(v1 + 1, v2 + 1) >
    1/2 with probability `threshold`; at least two samples."""
    if len(nodes) < 2:
        return False
    votes: dict[int, float] = {}
    counts: dict[int, int] = {}
    for nd, g in zip(nodes, group_answers([nd.answer for nd in nodes], equal), strict=True):
        if g is not None:
            votes[g] = votes.get(g, 0.0) + ((nd.score or 0.0) if weighted else 1.0)
            counts[g] = counts.get(g, 0) + 1
    return leaders_agreed(tally(votes, counts), threshold)
