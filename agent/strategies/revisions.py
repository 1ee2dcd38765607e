"""Sequential revisions: parallel chains, each a sequence of attempts that sees its earlier
attempts and the verifier's judgement of them (Snell et al. 2024, section 6).

Round r asks every chain still going for its r-th attempt, in parallel; each attempt is
judged (complete solution) before the next round, so the next prompt can show its score.
A prompt shows at most `history` earlier attempts of its chain (the most recent); if it is
too long for the model's context, fewer are shown. The final answer is selected across ALL
attempts of ALL chains by verifier-weighted vote (default), because a revision can turn a
right answer into a wrong one; `selection` can be naive or majority instead.

Planning: each attempt costs 1 + c generations (c = a verifier call). With a budget of G
generations there are A = G // (1 + c) attempts (one unjudged attempt if G < 1 + c), split
into `chains` chains (default: A // per_chain, at least 1) of about `per_chain` each. With
no generation limit, chains x per_chain attempts. Under a token budget, at most as many
attempts as can each have ctx.max_tokens (at least one), and each attempt's
max_tokens is the tokens left after the remaining judgements, shared by the attempts left.
"""

from __future__ import annotations

import asyncio
from typing import Any

from worldplan.agent.strategies.base import Node, SearchContext, StrategyResult
from worldplan.agent.strategies.selection import select
from worldplan.envs.math.answer import extract_answer
from worldplan.worldmodel.math.prompts import Attempt, revision_messages


def plan_revisions(generations: int | None, *, verify_cost: int, chains: int | None,
                   per_chain: int, tokens: int | None = None,
                   max_tokens: int = 512) -> tuple[list[int], bool]:
    """Attempts per chain, and whether attempts are judged, for a budget."""
    verify = verify_cost > 0
    if generations is None:
        total = (chains or 1) * per_chain
    elif verify and generations >= 1 + verify_cost:
        total = generations // (1 + verify_cost)
    else:
        total, verify = min(max(generations, 0), 1), False
    if tokens is not None:  # no more attempts than can each have max_tokens (at least 1)
        total = min(total, max(1, tokens // (max_tokens + verify_cost)))
    if total == 0:
        return [], verify
    c = max(1, min(chains or total // per_chain, total))
    return [total // c + (1 if i < total % c else 0) for i in range(c)], verify


async def revisions(problem: str, ctx: SearchContext, *, chains: int | None = None,
                    per_chain: int = 4, history: int = 4,
                    selection: str = "weighted") -> StrategyResult:
    """Parallel chains of sequential revisions; the answer is voted over all attempts."""
    plan, verify = plan_revisions(ctx.budget.generations_left, verify_cost=ctx.verify_cost,
                                  chains=chains, per_chain=per_chain,
                                  tokens=ctx.budget.tokens_left, max_tokens=ctx.max_tokens)
    chain_nodes: list[list[Node]] = [[] for _ in plan]
    nodes: list[Node] = []
    stop = "done"
    for rnd in range(max(plan, default=0)):
        going = [i for i, k in enumerate(plan) if k > rnd]
        left = sum(k - rnd for k in plan if k > rnd)  # attempts still to make, this round on
        m = ctx.most(len(going), verify=verify)
        if m < len(going):
            stop = "budget"
            going = going[:m]
        if not going:
            break
        max_tokens = ctx.tokens_each(left, left if verify else 0, ctx.max_tokens)
        made = await asyncio.gather(*[
            _attempt(problem, ctx, chain_nodes[i], i, history, max_tokens, verify)
            for i in going])
        for i, node in zip(going, made, strict=True):
            if node is None:
                stop = "budget"
                plan[i] = rnd  # this chain cannot go on
            else:
                chain_nodes[i].append(node)
                nodes.append(node)
    idx = select(nodes, selection)
    params: dict[str, Any] = {"chains": len(plan), "attempts": len(nodes),
                              "per_chain": per_chain, "history": history,
                              "selection": selection, "verified": verify}
    return ctx.result("revisions", nodes[idx] if idx is not None else None, nodes, nodes,
                      stop, params)


async def _attempt(problem: str, ctx: SearchContext, earlier: list[Node], chain: int,
                   history: int, max_tokens: int, verify: bool) -> Node | None:
    shown = earlier[-history:] if history > 0 else []
    sample = None
    while True:  # show fewer attempts if the prompt does not fit the context
        messages = revision_messages(problem, [Attempt(n.text, n.score) for n in shown])
        sample = await ctx.sample(messages, max_tokens=max_tokens)
        if sample is not None or not shown or not ctx.fits(1, 1, 1 if verify else 0):
            break
        shown = shown[1:]
    if sample is None:
        return None
    node = Node(ctx.key("r"), earlier[-1].key if earlier else None, "revision", sample.text,
                extract_answer(sample.text, bare=False), depth=len(earlier), tokens=sample.tokens,
                info={"chain": chain, "shown": len(shown),
                      "finish_reason": sample.finish_reason})
    if verify:
        node.score = await ctx.judge(problem, [sample.text], complete=True)
        node.scores = [] if node.score is None else [node.score]
    return node
