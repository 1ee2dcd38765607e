"""Best-of-N: sample N full solutions in parallel, judge each, select one answer.

Selection is naive (highest score), majority (most frequent answer, no verifier calls) or
weighted (largest summed score per answer); see agent.strategies.selection.

Planning (`plan_best_of_n`): with a budget of G generations and a verifier costing c per
call, naive/weighted sample N = G // (1 + c) solutions and judge each; majority samples
N = G. With G < 1 + c, one solution is sampled and not judged. An explicit `n` caps N.
With no generation limit, N = n (default 4). Under a token budget, N is also at most the
number of samples that can each have ctx.max_tokens (at least 1), and each sample's
max_tokens is the tokens left after the judgements, shared equally.
Curves at several N come from prefixes of ONE max-N run (benchmarks/math_scaling.py) with
`select_prefix`, which applies the same plan to a prefix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from worldplan.agent.strategies.base import Node, SearchContext, StrategyResult
from worldplan.agent.strategies.selection import select
from worldplan.envs.math.answer import extract_answer
from worldplan.envs.math.equivalence import Equal, string_equal
from worldplan.worldmodel.math.prompts import solver_messages

DEFAULT_N = 4


def plan_best_of_n(generations: int | None, *, selection: str, verify_cost: int,
                   n: int | None = None) -> tuple[int, bool]:
    """(samples N, judge them?) for a generation budget (None: unlimited)."""
    verify = selection != "majority" and verify_cost > 0
    if generations is None:
        wanted = n or DEFAULT_N
    elif verify and generations >= 1 + verify_cost:
        wanted = generations // (1 + verify_cost)
    elif verify:  # too little to judge anything: one unjudged sample
        wanted, verify = min(generations, 1), False
    else:
        wanted = generations
    return (min(wanted, n) if n else max(wanted, 0)), verify


async def best_of_n(problem: str, ctx: SearchContext, *, n: int | None = None,
                    selection: str = "weighted") -> StrategyResult:
    """Sample up to n solutions within the budget, judge them, and select an answer."""
    name = f"best_of_n_{selection}"
    wanted, verify = plan_best_of_n(ctx.budget.generations_left, selection=selection,
                                    verify_cost=ctx.verify_cost, n=n)
    # under a token budget, only as many samples as can each have ctx.max_tokens
    n_samples = ctx.most(wanted, verify=verify, tokens_each=ctx.max_tokens) or ctx.most(
        min(wanted, 1), verify=verify)
    if n_samples == 0 and ctx.fits(1):
        n_samples, verify = 1, False
    max_tokens = ctx.tokens_each(n_samples, n_samples if verify else 0, ctx.max_tokens)
    messages = solver_messages(problem)
    samples = await asyncio.gather(*[ctx.sample(messages, max_tokens=max_tokens)
                                     for _ in range(n_samples)])
    nodes = [Node(ctx.key("s"), None, "solution", s.text, extract_answer(s.text, bare=False),
                  tokens=s.tokens, info={"finish_reason": s.finish_reason})
             for s in samples if s is not None]
    if verify:
        scores = await asyncio.gather(*[ctx.judge(problem, [nd.text], complete=True)
                                        for nd in nodes])
        for nd, sc in zip(nodes, scores, strict=True):
            nd.score = sc
            nd.scores = [] if sc is None else [sc]
    idx = await ctx.choose(nodes, selection)
    stop = "done" if len(nodes) == n_samples and n_samples > 0 else "budget"
    params: dict[str, Any] = {"n": n_samples, "selection": selection, "verified": verify}
    return ctx.result(name, nodes[idx] if idx is not None else None, nodes, nodes, stop, params)


def select_prefix(candidates: Sequence[Node], generations: int, *, selection: str,
                  verify_cost: int, equal: Equal = string_equal) -> Node | None:
    """The choice best-of-N would make with `generations`, from a longer run's candidates
    (in sampling order, each judged): the plan's N first candidates, scores dropped when the
    plan could not afford judging them."""
    n, verify = plan_best_of_n(generations, selection=selection, verify_cost=verify_cost)
    prefix = list(candidates[:n])
    if not verify:
        prefix = [Node(c.key, c.parent_key, c.kind, c.text, c.answer, None, [], c.depth,
                       c.tokens) for c in prefix]
    idx = select(prefix, selection, equal)
    return None if idx is None else prefix[idx]
