"""Beam search over solution steps at budget scale (Snell et al. 2024, section 5;
search-and-learn's `beam_search`).

N beams, width M: round 0 samples N first steps (one n=N request), every later round keeps
the N / M best unfinished candidates and samples M next steps from each (refilled when
beams finish, so every round has N candidates), for up to 40 rounds; the answer is the
weighted vote of the N best finished solutions. The engine is agent.strategies.step_search.

Planning: with G generation-equivalents, N = G (G // 2 with a charged verifier), as in the
paper: N beams cost N whatever the number of rounds. M = `width` (default 4, at most N) or
"sqrt" (round(sqrt(N))). Under a token or FLOPs limit only, N is the number of full
solutions that fit at their worst case (prompt + ctx.max_tokens each), and rounds that do
not fit become the final round (step_search). An explicit `n_beams` is used as given (the
budget still bounds every call).
"""

from __future__ import annotations

import math

from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.records import StrategyResult
from worldplan.agent.strategies.step_search import (
    MAX_ROUNDS,
    Group,
    Rollout,
    SearchSpec,
    step_search,
)
from worldplan.worldmodel.math.prompts import solver_messages

Width = int | str  # beams' children per round: a number, or "sqrt" (round(sqrt(N)))


def resolve_width(width: Width, n: int) -> int:
    """M for N beams: `width` (at most N), or round(sqrt(N)) for "sqrt"."""
    if width == "sqrt":
        return max(1, min(n, round(math.sqrt(n))))
    if isinstance(width, str) or width < 1:
        raise ValueError(f"width must be a positive number or 'sqrt', got {width!r}")
    return max(1, min(n, width))


async def plan_beams(ctx: SearchContext, problem: str, per_path: int = 1) -> int:
    """N for the budget: generation-equivalents // (per_path + judge cost), or the full
    solutions that fit a token/FLOPs limit at their worst case (4 with no limit)."""
    if ctx.budget.generations_left is not None:
        return ctx.plan_paths(per_path)
    b = ctx.budget
    if b.tokens_left is None and b.flops_left is None:
        return 4
    prompt = await ctx.prompt_tokens(solver_messages(problem))
    return ctx.most(100_000, prompt=prompt, tokens_each=ctx.max_tokens * per_path,
                    judged=True)


async def beam_search(problem: str, ctx: SearchContext, *, n_beams: int | None = None,
                      width: Width = 4, max_rounds: int = MAX_ROUNDS, lookahead: int = 0,
                      rollout: Rollout | None = None,
                      selection: str = "weighted") -> StrategyResult:
    """Step-level beam search with N beams (default: the budget's N), M children each."""
    n = n_beams if n_beams is not None else await plan_beams(ctx, problem, 1 + lookahead)
    if n < 1:
        return ctx.result("lookahead" if lookahead else "beam", None, [], [], "budget",
                          {"n_beams": n})
    m = resolve_width(width, n)
    spec = SearchSpec("lookahead" if lookahead else "beam",
                      [Group(per_round=n, keep=max(1, n // m))], max_rounds, lookahead,
                      rollout, selection, best_of=n,
                      params={"n_beams": n, "width": m})
    return await step_search(problem, ctx, spec)
