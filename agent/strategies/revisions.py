"""Sequential revisions: parallel chains, each a sequence of attempts that sees its earlier
attempts and the verifier's judgement of them (Snell et al. 2024, section 6).

Round r asks every chain still going for its r-th attempt, in parallel; each attempt is
judged (complete solution) before the next round, so the next prompt can show its score.
A prompt shows at most `history` earlier attempts of its chain (the most recent); if it is
too long for the model's context, fewer are shown. The final answer is chosen as in the
paper: the best-scored attempt WITHIN each chain (a revision can turn a right answer into
a wrong one; ties go to the later attempt, and unjudged chains give their last attempt),
then a verifier-weighted vote ACROSS the chains' choices (`selection`: weighted by default,
or naive / majority). `within="all"` votes over every attempt of every chain instead.

Planning: each attempt costs 1 + c generations (c = a verifier call). With a budget of G
generations there are A = G // (1 + c) attempts (one unjudged attempt if G < 1 + c), split
into `chains` chains (default: A // per_chain, at least 1) of about `per_chain` each, or, with
`ratio` (sequential to parallel, the paper's knob), sqrt(A / ratio) chains of about
sqrt(A x ratio) attempts. With no generation limit, chains x per_chain attempts. Under a
token budget, at most as many attempts as can each have ctx.max_tokens (at least one), and
each attempt's max_tokens is the tokens left after the remaining judgements, shared by the
attempts left.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from worldplan.agent.strategies.base import Node, SearchContext, StrategyResult
from worldplan.envs.math.answer import extract_answer
from worldplan.worldmodel.math.prompts import Attempt, revision_messages

WITHIN = ("best", "all")  # per chain: its best attempt goes to the vote, or every attempt


def plan_revisions(generations: int | None, *, verify_cost: int, chains: int | None,
                   per_chain: int, tokens: int | None = None, max_tokens: int = 512,
                   ratio: float | None = None) -> tuple[list[int], bool]:
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
    if ratio is not None and chains is None:
        chains = max(1, round(math.sqrt(total / ratio)))
    c = max(1, min(chains or total // per_chain, total))
    return [total // c + (1 if i < total % c else 0) for i in range(c)], verify


async def revisions(problem: str, ctx: SearchContext, *, chains: int | None = None,
                    per_chain: int = 4, history: int = 4, selection: str = "weighted",
                    ratio: float | None = None, within: str = "best") -> StrategyResult:
    """Parallel chains of sequential revisions; the best attempt of each chain, then a vote
    across chains (`within="all"`: a vote over all attempts)."""
    if within not in WITHIN:
        raise ValueError(f"unknown within {within!r}: use one of {', '.join(WITHIN)}")
    plan, verify = plan_revisions(ctx.budget.generations_left, verify_cost=ctx.verify_cost,
                                  chains=chains, per_chain=per_chain,
                                  tokens=ctx.budget.tokens_left, max_tokens=ctx.max_tokens,
                                  ratio=ratio)
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
    finalists = nodes if within == "all" else [best_in_chain(c) for c in chain_nodes if c]
    idx = await ctx.choose(finalists, selection)
    params: dict[str, Any] = {"chains": len(plan), "attempts": len(nodes),
                              "per_chain": per_chain, "ratio": ratio, "history": history,
                              "selection": selection, "within": within, "verified": verify}
    return ctx.result("revisions", finalists[idx] if idx is not None else None, nodes, nodes,
                      stop, params)


def best_in_chain(chain: list[Node]) -> Node:
    """The chain's best-scored attempt, the later one on ties; unjudged attempts rank below
    judged ones, so an unjudged chain gives its last attempt."""
    return max(reversed(chain), key=lambda n: -1.0 if n.score is None else n.score)


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
