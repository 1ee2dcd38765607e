"""The difficulty probe: a few first samples of a problem, judged, with token entropy.

`run_probe(problem, ctx, n)` samples n full solutions in ONE request with logprobs (top 5
per token, for the mean token entropy), judges each with the context's verifier, and returns
the samples as search nodes (kind "probe") plus `Signals` (agent.control.difficulty). Everything is
drawn from a `Budget.child` of the context's budget limited to `probe_cost(n, ctx)`
generations, so the probe is charged to the problem's budget (Snell et al. left it out; we do
not) and can never take more than that. What it spent is in the returned `Probe`.

`probe_cost` is n samples, plus n judgements when the verifier is charged. Not handled:
probing one step of a web task
(the web agent builds `Signals` from its own proposals).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from worldplan.agent.control.difficulty import Signals
from worldplan.agent.control.scorer import logprob_stats
from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.records import Counts, Ledger, Node
from worldplan.envs.math.answer import extract_answer
from worldplan.worldmodel.llm.accounting import BudgetExceeded
from worldplan.worldmodel.llm.errors import ContextLengthExceeded
from worldplan.worldmodel.llm.generation import Choice
from worldplan.worldmodel.math.prompts import solver_messages
from worldplan.worldmodel.math.verifier import split_steps

PROBE_TOP_LOGPROBS = 5
PROBE_SEED_OFFSET = 7_919  # probe seeds differ from the strategy's (same base seed)


@dataclass
class Probe:
    nodes: list[Node] = field(default_factory=list)
    signals: Signals = field(default_factory=Signals)
    ledger: Ledger = field(default_factory=Ledger)
    note: str = ""

    @property
    def counts(self) -> Counts:
        return self.ledger.solver + self.ledger.verifier


def probe_cost(n: int, judge_cost: int) -> int:
    """Generation-equivalents a probe of n samples draws: n samples, plus n judgements
    when each costs `judge_cost` (a charged verifier)."""
    return n * (1 + judge_cost)


async def run_probe(problem: str, ctx: SearchContext, n: int) -> Probe:
    """Sample and judge n solutions within a child budget of `probe_cost` generations."""
    out = Probe()
    if n < 1:
        out.note = "no probe"
        return out
    sub = ctx.budget.child(max_generations=probe_cost(n, ctx.judge_paths))
    pctx = SearchContext(ctx.client, ctx.verifier, sub, max_tokens=ctx.max_tokens,
                         temperature=ctx.temperature, top_p=ctx.top_p,
                         seed=None if ctx.seed is None else ctx.seed + PROBE_SEED_OFFSET,
                         aggregation=ctx.aggregation, same_answer=ctx.same_answer,
                         verifier_charged=ctx.verifier_charged,
                         tags={**ctx.tags, "phase": "probe"}, ledger=out.ledger)
    messages = solver_messages(problem)
    try:
        gen = await ctx.client.chat(
            messages, role="probe", n=n, max_tokens=ctx.max_tokens,
            temperature=ctx.temperature, top_p=ctx.top_p, seed=pctx.next_seed(),
            logprobs=True, top_logprobs=PROBE_TOP_LOGPROBS, budget=sub, tags=pctx.tags)
    except (BudgetExceeded, ContextLengthExceeded) as e:
        out.note = f"probe not run: {e}"
        return out
    out.ledger.add_generation(gen, n)
    per_tokens = _split_tokens(gen.usage.completion_tokens, gen.choices)
    for i, c in enumerate(gen.choices):
        lp = logprob_stats(c.logprobs, c.text)  # its mean token entropy among them
        node = Node(f"probe{i}", None, "probe", c.text, extract_answer(c.text, bare=False),
                    tokens=per_tokens[i],
                    info={"finish_reason": c.finish_reason, "phase": "probe",
                          "entropy": lp.get("entropy", 0.0),
                          "sample": {"lp": lp, "tokens": per_tokens[i],
                                     "finish": c.finish_reason}})
        out.nodes.append(node)
    await asyncio.gather(*[pctx.score(nd, problem, split_steps(nd.text), complete=True,
                                      asked=messages) for nd in out.nodes])
    out.signals = Signals(
        scores=[nd.score for nd in out.nodes], answers=[nd.answer for nd in out.nodes],
        entropies=[float(nd.info["entropy"]) for nd in out.nodes],
        tokens=[nd.tokens for nd in out.nodes],
        truncated=[nd.info["finish_reason"] == "length" for nd in out.nodes])
    return out


def _split_tokens(total: int, choices: Sequence[Choice]) -> list[int]:
    """Completion tokens per choice: counted from logprobs when present, else shared."""
    counted = [len(c.logprobs) if c.logprobs is not None else None for c in choices]
    if all(k is not None for k in counted) and sum(k or 0 for k in counted) == total:
        return [int(k or 0) for k in counted]
    n = max(len(choices), 1)
    return [total // n + (1 if i < total % n else 0) for i in range(len(choices))]
