"""What every test-time-compute strategy shares: its context, its result, and budget-aware
sampling and judging helpers.

A strategy is `async def f(problem: str, ctx: SearchContext, **params) -> StrategyResult`.
`SearchContext` carries the injected dependencies (LLM client, verifier, the problem's
`Budget`) and sampling settings; its `Ledger` counts, per role, every call the strategy
made in the three units (worldmodel.llm.usage: generation-equivalents, tokens = uncached
prompt + completion, FLOPs) from the server's own usage figures. Strategies never
construct models.

Budget accounting (the same for every strategy):
- generation-equivalents are charged by construction: `sample(..., equivalents=...)` says
  what a call is worth (by default one per sample); beam search charges its first round
  only, so N beams cost N (agent.strategies.beam);
- the verifier is free (`verifier_charged=False`, as in Snell et al. 2024: judgements draw
  nothing from the budget and are reported apart) or charged: then a judgement draws its
  tokens and FLOPs, and one generation-equivalent per solution path judged;
- strategies plan with `plan_paths` / `fits` before calling, and the client reserves each
  call's worst case, so the budget is never exceeded; a call that does not fit returns
  None (nothing spent) and the strategy stops cleanly.

`choose` applies a selection rule (agent.strategies.selection) with the context's answer
equivalence (`same_answer`: canonical strings, or math-verify through the runner's grader).
Not handled here: the selection rules themselves, the search itself.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from worldplan.agent.control.scorer import logprob_stats
from worldplan.agent.strategies.records import Ledger, Node, Sample, StrategyResult
from worldplan.agent.strategies.selection import Scored, select
from worldplan.envs.math.equivalence import Equal, string_equal
from worldplan.worldmodel.llm.accounting import Budget, BudgetExceeded
from worldplan.worldmodel.llm.client import LLMClient, Message
from worldplan.worldmodel.llm.errors import ContextLengthExceeded
from worldplan.worldmodel.math.verifier import Judgement, Verifier, aggregate

LOGPROB_TOP = 5  # top logprobs per token asked for a learned verifier's entropy features
JUDGE_EXTRA_TOKENS = 48  # the yes/no question after a solution, worst case (tokens)


@dataclass
class SearchContext:
    """Dependencies and settings of one problem's search. Build one per problem."""

    client: LLMClient
    verifier: Verifier | None
    budget: Budget
    max_tokens: int = 512  # per full solution (tokens)
    step_max_tokens: int = 160  # per solution step (tokens)
    temperature: float = 0.8
    top_p: float = 1.0
    seed: int | None = None
    aggregation: str = "last"  # how step scores become one (worldmodel.math.verifier.aggregate)
    same_answer: Equal = string_equal  # which answers vote together (envs.math.equivalence)
    verifier_charged: bool = False  # False: judgements are free, as in the paper
    tags: dict[str, Any] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    _counter: itertools.count[int] = field(default_factory=itertools.count, repr=False)

    # ---- planning ---------------------------------------------------------------------

    @property
    def judge_paths(self) -> int:
        """Generation-equivalents a judged solution path adds (1 if the verifier is
        charged, else 0)."""
        return 1 if self.verifier is not None and self.verifier_charged else 0

    def plan_paths(self, per_path: int = 1, *, judged: bool = True,
                   default: int = 4) -> int:
        """How many solution paths a generation-equivalent budget pays for, each costing
        `per_path` (plus one if judged by a charged verifier); `default` if unlimited.
        Under a token or FLOPs limit only, `default` too (callers then go on while
        `fits`)."""
        g = self.budget.generations_left
        if g is None:
            return default
        return max(0, g // (per_path + (self.judge_paths if judged else 0)))

    async def prompt_tokens(self, messages: Sequence[Message],
                            extra: dict[str, Any] | None = None) -> int:
        """The prompt's exact tokens if the budget needs them (0 otherwise)."""
        if not self.budget.needs_prompt_count:
            return 0
        return await self.client.count_prompt("chat", {"messages": list(messages)}, extra)

    def fits(self, samples: int, *, prompt: int, tokens_each: int, judged: bool,
             equivalents: int | None = None, judge_prompt: int | None = None) -> bool:
        """Do `samples` samples of `tokens_each` tokens whose requests' prompts total
        `prompt` tokens (and, if judged by a charged verifier, their judgements: each at
        worst its prompt (`judge_prompt` in all, default prompt x samples), the sample and
        the question) fit what is left, in every limited unit?"""
        b = self.budget
        eq = samples if equivalents is None else equivalents
        tokens = prompt + samples * tokens_each
        if judged and self.judge_paths:
            eq += samples
            tokens += (prompt * samples if judge_prompt is None else judge_prompt) + (
                samples * (tokens_each + JUDGE_EXTRA_TOKENS))
        g, t, f = b.generations_left, b.tokens_left, b.flops_left
        params = self.client.n_params or 0
        return ((g is None or g >= eq) and (t is None or t >= tokens)
                and (f is None or f >= 2.0 * params * tokens))

    def most(self, wanted: int, *, prompt: int, tokens_each: int, judged: bool,
             per_sample: int = 1) -> int:
        """The largest m <= wanted such that m samples of one prompt fit (`fits`)."""
        lo, hi = 0, max(0, wanted)
        while lo < hi:  # fits is monotone in m
            mid = (lo + hi + 1) // 2
            if self.fits(mid, prompt=prompt, tokens_each=tokens_each, judged=judged,
                         equivalents=mid * per_sample):
                lo = mid
            else:
                hi = mid - 1
        return lo

    def next_seed(self) -> int | None:
        return None if self.seed is None else self.seed * 100_003 + next(self._counter)

    def key(self, prefix: str) -> str:
        return f"{prefix}{next(self._counter)}"

    # ---- calls ------------------------------------------------------------------------

    async def sample(self, messages: Sequence[Message], *, n: int = 1, max_tokens: int,
                     stop: Sequence[str] | None = None, extra: dict[str, Any] | None = None,
                     temperature: float | None = None,
                     equivalents: int | None = None) -> list[Sample] | None:
        """n completions of one prompt in ONE request (worth `equivalents`, default n),
        drawn from the budget; None if they do not fit (nothing spent)."""
        if max_tokens < 1 or n < 1:
            return None
        lp = bool(getattr(self.verifier, "wants_logprobs", False))  # a learned verifier's
        try:
            gen = await self.client.chat(
                messages, role="proposer", n=n, max_tokens=max_tokens,
                temperature=self.temperature if temperature is None else temperature,
                top_p=self.top_p, seed=self.next_seed(), stop=stop, budget=self.budget,
                equivalents=equivalents, extra=extra, tags=self.tags, logprobs=lp,
                top_logprobs=LOGPROB_TOP if lp else None)
        except (BudgetExceeded, ContextLengthExceeded):
            return None
        self.ledger.add_generation(gen, n if equivalents is None else equivalents)
        share = gen.usage.completion_tokens // n
        return [Sample.of(c, len(c.logprobs) if lp and c.logprobs is not None  # its own
                          else share if n > 1 else gen.usage.completion_tokens,
                          logprob_stats(c.logprobs, c.text) if lp else None)
                for c in gen.choices]

    async def judge(self, problem: str, steps: Sequence[str], *, complete: bool,
                    asked: Sequence[Message] | None = None, path: bool = True,
                    sample: Mapping[str, Any] | None = None) -> Judgement | None:
        """The verifier's judgement of a (partial) solution (the conversation it was
        sampled from is `asked`); None if there is no verifier or it does not fit. Charged
        (if at all) one generation-equivalent when `path` (a new solution path), else 0."""
        if self.verifier is None:
            return None
        budget = self.budget if self.verifier_charged else None
        try:
            j = await self.verifier.judge(problem, steps, complete=complete, asked=asked,
                                          budget=budget, sample=sample,
                                          equivalents=self.judge_paths if path else 0,
                                          tags={**self.tags, "role": "verifier"})
        except (BudgetExceeded, ContextLengthExceeded):
            return None
        self.ledger.add_judgement(j, samples=0 if self.verifier.kind == "prm" else 1)
        return j

    async def score(self, node: Node, problem: str, steps: Sequence[str], *, complete: bool,
                    asked: Sequence[Message] | None = None, path: bool = True,
                    earlier: Sequence[float] = ()) -> None:
        """Judge `steps` and set the node's step scores and aggregated score: a PRM scores
        every step; a generative verifier the last one, after the `earlier` scores."""
        j = await self.judge(problem, steps, complete=complete, asked=asked, path=path,
                             sample=node.info.get("sample"))
        if j is None:
            node.scores = list(earlier)
            return
        if j.detail and not j.scores:
            node.info["unjudged"] = j.detail
        node.scores = (list(j.scores) if self.verifier is not None
                       and self.verifier.kind == "prm" else [*earlier, *j.scores])
        node.score = aggregate(node.scores, self.aggregation) if j.scores else None

    async def choose(self, cands: Sequence[Scored], how: str) -> int | None:
        """agent.strategies.selection.select with this context's answer equivalence, in a
        worker thread: math-verify may take up to the grader's timeout (seconds)."""
        return await asyncio.to_thread(select, cands, how, self.same_answer)

    def result(self, strategy: str, chosen: Node | None, candidates: list[Node],
               nodes: list[Node], stop_reason: str, params: dict[str, Any]) -> StrategyResult:
        if chosen is not None:
            chosen.chosen = True
        return StrategyResult(
            strategy=strategy, answer=chosen.answer if chosen else None,
            solution=str(chosen.info.get("full_text", chosen.text)) if chosen else "",
            candidates=candidates, nodes=nodes, solver=self.ledger.solver,
            verifier=self.ledger.verifier, budget=self.budget.summary(),
            stop_reason=stop_reason, params=params, verifier_charged=self.verifier_charged)
