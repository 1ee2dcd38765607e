"""Diverse verifier tree search (DVTS; Beeching et al. 2024, search-and-learn): N / M
independent subtrees, each a greedy search by the verifier that samples M next steps from
its one beam every round and keeps the best; a subtree ends when its best candidate is a
finished solution. The subtrees' solutions are selected by weighted vote. More diverse than
beam search at large N, where beam search's N / M kept beams collapse onto few prefixes.

Planning and compute are beam search's (agent.strategies.beam): N = the budget's
generation-equivalents (round 0 samples N first steps, M per subtree), later rounds are
free; M = `width` (default 4) or "sqrt"; when M does not divide N, the N candidates are
shared by round(N / M) subtrees as evenly as possible. The engine is agent.strategies.step_search.
"""

from __future__ import annotations

from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.beam import Width, plan_beams, resolve_width
from worldplan.agent.strategies.records import StrategyResult
from worldplan.agent.strategies.step_search import MAX_ROUNDS, Group, SearchSpec, step_search


async def dvts(problem: str, ctx: SearchContext, *, n: int | None = None, width: Width = 4,
               max_rounds: int = MAX_ROUNDS, selection: str = "weighted") -> StrategyResult:
    """N / M subtrees of M candidates per round, each keeping its best."""
    total = n if n is not None else await plan_beams(ctx, problem)
    if total < 1:
        return ctx.result("dvts", None, [], [], "budget", {"n": total})
    m = resolve_width(width, total)
    k = max(1, round(total / m))  # subtrees; N is shared so all N candidates are used
    groups = [Group(per_round=total // k + (1 if i < total % k else 0), keep=1,
                    ends_on_best=True) for i in range(k)]
    spec = SearchSpec("dvts", groups, max_rounds, selection=selection,
                      params={"n": total, "width": m, "subtrees": len(groups)})
    return await step_search(problem, ctx, spec)
