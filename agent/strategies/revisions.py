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

Planning: an attempt is a solution path: 1 generation-equivalent, plus 1 when a charged
verifier judges it. With G generation-equivalents there are A = G // (1 + c) attempts (one
unjudged attempt if a charged verifier leaves no room to judge), split into `chains` chains
(default: A // per_chain, at least 1) of about `per_chain` each, or, with `ratio`
(sequential to parallel, the paper's knob), sqrt(A / ratio) chains of about
sqrt(A x ratio) attempts. Under a token or FLOPs limit only, the chains are planned from
the number of attempts that fit at their worst case (prompt + ctx.max_tokens, + judging),
and rounds go on, each chain that still fits making one more attempt, until not one more
attempt fits: the budget is used to within one attempt. With no limit at all,
chains x per_chain attempts.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from dataclasses import dataclass
from typing import Any

from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.records import Node, StrategyResult
from worldplan.envs.math.answer import extract_answer
from worldplan.worldmodel.llm.client import Message
from worldplan.worldmodel.math.prompts import Attempt, revision_messages
from worldplan.worldmodel.math.verifier import split_steps

WITHIN = ("best", "all")  # per chain: its best attempt goes to the vote, or every attempt


def plan_revisions(attempts: int, *, chains: int | None, per_chain: int,
                   ratio: float | None = None) -> list[int]:
    """Attempts per chain for `attempts` attempts in all."""
    if attempts <= 0:
        return []
    if ratio is not None and chains is None:
        chains = max(1, round(math.sqrt(attempts / ratio)))
    c = max(1, min(chains or attempts // per_chain, attempts))
    return [attempts // c + (1 if i < attempts % c else 0) for i in range(c)]


async def revisions(problem: str, ctx: SearchContext, *, chains: int | None = None,
                    per_chain: int = 4, history: int = 4, selection: str = "weighted",
                    ratio: float | None = None, within: str = "best") -> StrategyResult:
    """Parallel chains of sequential revisions; the best attempt of each chain, then a vote
    across chains (`within="all"`: a vote over all attempts)."""
    if within not in WITHIN:
        raise ValueError(f"unknown within {within!r}: use one of {', '.join(WITHIN)}")
    verify = ctx.verifier is not None
    first = await ctx.prompt_tokens(revision_messages(problem, []))
    limited = ctx.budget.generations_left is not None
    if limited:
        total = ctx.plan_paths(judged=True)
        if total == 0 and ctx.plan_paths(judged=False) > 0:
            total, verify = 1, False
    elif ctx.budget.tokens_left is not None or ctx.budget.flops_left is not None:
        total = ctx.most(10_000, prompt=first, tokens_each=ctx.max_tokens, judged=verify)
    else:
        total = (chains or 1) * per_chain
        limited = True
    plan = plan_revisions(total, chains=chains, per_chain=per_chain, ratio=ratio)
    chain_nodes: list[list[Node]] = [[] for _ in plan]
    nodes: list[Node] = []
    stop = "done"
    for rnd in itertools.count():
        going = [i for i, k in enumerate(plan) if (k > rnd if limited else k >= 0)]
        if not going:
            break
        asks = [await _ask(problem, ctx, chain_nodes[i], history) for i in going]
        admitted = _admit(ctx, asks, verify)
        if len(admitted) < len(going):
            stop = "budget" if limited else "done"
            for i in going[len(admitted):]:
                plan[i] = -1 if not limited else rnd  # this chain cannot go on
        if not admitted:
            break
        made = await asyncio.gather(*[
            _attempt(problem, ctx, chain_nodes[i], i, ask, verify)
            for i, ask in zip(going, admitted, strict=False)])
        for i, node in zip(going, made, strict=False):
            if node is None:
                stop = "budget"
                plan[i] = -1 if not limited else rnd
            else:
                chain_nodes[i].append(node)
                nodes.append(node)
    finalists = nodes if within == "all" else [best_in_chain(c) for c in chain_nodes if c]
    idx = await ctx.choose(finalists, selection)
    params: dict[str, Any] = {"chains": len(plan), "attempts": len(nodes),
                              "per_chain": per_chain, "ratio": ratio, "history": history,
                              "selection": selection, "within": within, "verified": verify}
    # candidates are what the vote is over (a caller re-selecting, as compute-optimal does
    # with its probe's samples, votes over the same finalists)
    return ctx.result("revisions", finalists[idx] if idx is not None else None, finalists,
                      nodes, stop, params)


def best_in_chain(chain: list[Node]) -> Node:
    """The chain's best-scored attempt, the later one on ties; unjudged attempts rank below
    judged ones, so an unjudged chain gives its last attempt."""
    return max(reversed(chain), key=lambda n: -1.0 if n.score is None else n.score)


@dataclass(frozen=True)
class _Ask:
    messages: list[Message]
    shown: int  # earlier attempts shown
    prompt: int  # its tokens, if the budget counts them (else 0)


async def _ask(problem: str, ctx: SearchContext, earlier: list[Node], history: int) -> _Ask:
    shown = earlier[-history:] if history > 0 else []
    messages = revision_messages(problem, [Attempt(n.text, n.score) for n in shown])
    return _Ask(messages, len(shown), await ctx.prompt_tokens(messages))


def _admit(ctx: SearchContext, asks: list[_Ask], verify: bool) -> list[_Ask]:
    """The first asks (chains in order) whose attempts fit together at their worst case."""
    m = 0
    while m < len(asks):
        prompts = sum(a.prompt for a in asks[:m + 1])
        if not ctx.fits(m + 1, prompt=prompts, tokens_each=ctx.max_tokens, judged=verify,
                        judge_prompt=prompts):
            break
        m += 1
    return asks[:m]


async def _attempt(problem: str, ctx: SearchContext, earlier: list[Node], chain: int,
                   ask: _Ask, verify: bool) -> Node | None:
    shown = earlier[-ask.shown:] if ask.shown else []
    messages = ask.messages
    while True:  # show fewer attempts if the prompt does not fit the context
        got = await ctx.sample(messages, max_tokens=ctx.max_tokens)
        if got is not None or not shown:
            break
        shown = shown[1:]
        messages = revision_messages(problem, [Attempt(n.text, n.score) for n in shown])
    if got is None:
        return None
    sample = got[0]
    node = Node(ctx.key("r"), earlier[-1].key if earlier else None, "revision", sample.text,
                extract_answer(sample.text, bare=False), depth=len(earlier), tokens=sample.tokens,
                info={"chain": chain, "shown": len(shown),
                      "finish_reason": sample.finish_reason, "sample": sample.about()})
    if verify:
        await ctx.score(node, problem, split_steps(sample.text), complete=True,
                        asked=messages)
    return node
