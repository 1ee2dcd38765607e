"""Lookahead search: beam search whose candidate steps are scored at the end of a k-step
greedy rollout (Snell et al. 2024, section 5: "lookahead search").

For every non-final candidate step, `rollout` extends the partial solution by up to k more
steps at temperature 0 (stop "\\n\\n"; it stops early at a \\boxed{} answer) and the verifier
judges the rolled-out prefix; that score becomes the candidate's step score. The rollout's
steps are stored as search nodes (kind "rollout") but are not kept in the beam: the beam
advances by the sampled step only. Everything else (beams, width, rounds, final selection)
is agent.strategies.beam. Compute: the rollouts of round 0 are charged one
generation-equivalent per step, so N beams with lookahead k cost N(k + 1), and N is the
budget // (k + 1).
"""

from __future__ import annotations

from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.beam import Width, beam_search
from worldplan.agent.strategies.records import Node, StrategyResult
from worldplan.agent.strategies.step_search import MAX_ROUNDS
from worldplan.envs.math.answer import extract_boxed
from worldplan.worldmodel.math.prompts import STEP_SEP, continuation


async def rollout(problem: str, ctx: SearchContext, steps: list[str], parent: str, k: int,
                  max_tokens: int, equivalents: int) -> tuple[list[str], list[Node]]:
    """Up to k greedy steps after `steps` (each worth `equivalents`); returns the extended
    steps and rollout nodes."""
    steps = list(steps)
    nodes: list[Node] = []
    for j in range(k):
        messages, extra = continuation(problem, steps)
        got = await ctx.sample(messages, max_tokens=max_tokens, stop=[STEP_SEP], extra=extra,
                               temperature=0.0, equivalents=equivalents)
        if got is None:
            break
        s = got[0]
        text = s.text.strip("\n")
        node = Node(ctx.key("la"), nodes[-1].key if nodes else parent, "rollout", text,
                    depth=len(steps), tokens=s.tokens,
                    info={"lookahead_step": j + 1, "finish_reason": s.finish_reason})
        nodes.append(node)
        if not text:
            break
        steps.append(text)
        if extract_boxed(text) is not None or s.ended:
            break
    return steps, nodes


async def lookahead_search(problem: str, ctx: SearchContext, *, k: int = 1,
                           n_beams: int | None = None, width: Width = 4,
                           max_rounds: int = MAX_ROUNDS,
                           selection: str = "weighted") -> StrategyResult:
    """Beam search with each candidate scored after a k-step greedy rollout."""
    if k < 1:
        raise ValueError(f"lookahead needs k >= 1 steps, got {k}")
    return await beam_search(problem, ctx, n_beams=n_beams, width=width,
                             max_rounds=max_rounds, lookahead=k, rollout=rollout,
                             selection=selection)
