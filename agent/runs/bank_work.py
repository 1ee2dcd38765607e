"""What one unit of a bank build does (agent.runs.bank_build runs them; agent.banks.units
says what their records hold): K judged samples with logprob statistics, a revision chain,
a search. Each draws from the `SearchContext` it is given, so its calls are counted in the
context's ledger and recorded under the current episode.
Not handled: episodes, resuming, writing the bank (agent.runs.bank_build).
"""

from __future__ import annotations

import asyncio
from typing import Any

from worldplan.agent.banks.units import candidate
from worldplan.agent.control.scorer import logprob_stats
from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.fixed import get_fixed
from worldplan.envs.math.answer import extract_answer
from worldplan.envs.math.data import MathProblem
from worldplan.envs.math.grader import Grader
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.math.prompts import Attempt, revision_messages, solver_messages
from worldplan.worldmodel.math.verifier import split_steps

TOP_LOGPROBS = 5


async def grade(grader: Grader, answer: str | None, reference: str) -> bool:
    return (await asyncio.to_thread(grader.grade, answer, reference)).correct


async def step_scores(ctx: SearchContext, p: MathProblem, text: str) -> list[float | None]:
    """The verifier's score after every step (None where it gave no verdict)."""
    steps = split_steps(text)
    asked = solver_messages(p.problem)
    judged = await asyncio.gather(*[
        ctx.judge(p.problem, steps[:i], complete=i == len(steps), asked=asked)
        for i in range(1, len(steps) + 1)])
    return [j.scores[-1] if j is not None and j.scores else None for j in judged]


async def samples_unit(ctx: SearchContext, p: MathProblem, grader: Grader, *, k: int,
                       max_tokens: int, temperature: float) -> dict[str, Any]:
    """K samples in one request with logprobs, graded and judged after every step."""
    seed = ctx.next_seed()
    gen = await ctx.client.chat(solver_messages(p.problem), role="proposer", n=k,
                                max_tokens=max_tokens, temperature=temperature, seed=seed,
                                logprobs=True, top_logprobs=TOP_LOGPROBS, tags=ctx.tags)
    ctx.ledger.add_generation(gen, k)
    answers = [extract_answer(ch.text, bare=False) for ch in gen.choices]
    grades, scores = await asyncio.gather(
        asyncio.gather(*[grade(grader, a, p.answer) for a in answers]),
        asyncio.gather(*[step_scores(ctx, p, ch.text) for ch in gen.choices]))
    cands = [candidate(ch.text, a, ok, finish=ch.finish_reason,
                       tokens=len(ch.logprobs or []), scores=s,
                       lp=logprob_stats(ch.logprobs, ch.text))
             for ch, a, ok, s in zip(gen.choices, answers, grades, scores, strict=True)]
    return {"samples": cands, "seed": seed}


async def chain_unit_run(ctx: SearchContext, p: MathProblem, grader: Grader,
                         samples: dict[str, Any], j: int, *, length: int, history: int,
                         max_tokens: int) -> dict[str, Any]:
    """Revision chain j: sample j, then length - 1 revisions, each judged."""
    first = samples["samples"][j]
    chain = [Attempt(first["text"], first["score"])]
    attempts: list[dict[str, Any]] = []
    for _ in range(length - 1):
        messages = revision_messages(p.problem, chain[-history:])
        got = await ctx.sample(messages, max_tokens=max_tokens)
        if got is None:
            raise RuntimeError(f"{p.uid}: a revision did not fit the model's context")
        s = got[0]
        answer = extract_answer(s.text, bare=False)
        j_ = await ctx.judge(p.problem, split_steps(s.text), complete=True, asked=messages)
        score = j_.scores[-1] if j_ is not None and j_.scores else None
        attempts.append(candidate(s.text, answer, await grade(grader, answer, p.answer),
                                  finish=s.finish_reason, tokens=s.tokens, scores=[score]))
        chain.append(Attempt(s.text, score))
    return {"first": j, "attempts": attempts}


async def search_unit_run(ctx: SearchContext, p: MathProblem, grader: Grader, strategy: str,
                          n: int, width: int) -> dict[str, Any]:
    """The live strategy once with a budget of n generation-equivalents."""
    ctx.budget = Budget(max_generations=n)
    res = await get_fixed(strategy)(p.problem, ctx, width=width)
    cands = [{"answer": nd.answer, "score": nd.score,
              "correct": await grade(grader, nd.answer, p.answer)} for nd in res.candidates]
    return {"strategy": strategy, "budget": n, "answer": res.answer,
            "correct": await grade(grader, res.answer, p.answer), "candidates": cands,
            "stop_reason": res.stop_reason, "spent": res.budget}
