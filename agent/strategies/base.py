"""What every test-time-compute strategy shares: its context, its result, and budget-aware
sampling and judging helpers.

A strategy is `async def f(problem: str, ctx: SearchContext, **params) -> StrategyResult`.
`SearchContext` carries the injected dependencies (LLM client, verifier, the problem's
`Budget`) and sampling settings; it owns a `Ledger` that counts, per role, every call the
strategy made with the server's own usage figures. Strategies never construct models.

Budget accounting (the same for every strategy):
- one sampled completion (a full solution, one step, a lookahead step) = one generation;
  its completion tokens are generated tokens (accounting.Budget's two units);
- a generative verifier call is a 1-token generation and IS drawn from the same budget
  (`Verifier.generations_per_call`); results report solver and verifier counts separately;
- strategies plan with `fits` / `tokens_each` before calling, so no call is refused; the
  helpers still catch `BudgetExceeded` (and `ContextLengthExceeded`) and return None, so a
  strategy stops cleanly instead of crashing.

`choose` applies a selection rule (agent.strategies.selection) with the context's answer
equivalence (`same_answer`: canonical strings, or math-verify through the runner's grader).
Not handled here: the selection rules themselves, the search itself.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from worldplan.agent.strategies.selection import Scored, select
from worldplan.envs.math.equivalence import Equal, string_equal
from worldplan.worldmodel.llm.accounting import Budget, BudgetExceeded
from worldplan.worldmodel.llm.client import LLMClient, Message
from worldplan.worldmodel.llm.errors import ContextLengthExceeded
from worldplan.worldmodel.llm.generation import Generation
from worldplan.worldmodel.math.verifier import Judgement, Verifier


@dataclass
class Node:
    """One search record, flat (mirrors traces.schema.SearchNode)."""

    key: str
    parent_key: str | None
    kind: str  # solution | revision | step | final | rollout
    text: str  # this node's own text (one step, or a whole solution)
    answer: str | None = None
    score: float | None = None  # aggregated verifier score
    scores: list[float] = field(default_factory=list)  # per-step verifier scores
    depth: int = 0
    tokens: int = 0  # completion tokens of this node's text
    chosen: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The fields of a traces.schema.SearchNode row."""
        d = asdict(self)
        d["answer"] = self.answer or ""
        return d


@dataclass
class Counts:
    calls: int = 0  # requests answered
    generations: int = 0  # sampled completions (a verifier call is one)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    flops: float = 0.0  # 0 when the client does not know the model's size

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.calls + other.calls, self.generations + other.generations,
                      self.prompt_tokens + other.prompt_tokens,
                      self.completion_tokens + other.completion_tokens, self.flops + other.flops)


@dataclass
class Ledger:
    """What a strategy spent, per role, from the server's usage figures."""

    solver: Counts = field(default_factory=Counts)
    verifier: Counts = field(default_factory=Counts)

    def add_generation(self, gen: Generation) -> None:
        c = self.solver
        c.calls += 1
        c.generations += len(gen.choices)
        c.prompt_tokens += gen.usage.prompt_tokens
        c.completion_tokens += gen.usage.completion_tokens
        c.flops += gen.flops or 0.0

    def add_judgement(self, j: Judgement) -> None:
        c = self.verifier
        c.calls += j.calls
        c.generations += j.generations
        c.prompt_tokens += j.usage.prompt_tokens
        c.completion_tokens += j.usage.completion_tokens
        c.flops += j.flops or 0.0


@dataclass
class StrategyResult:
    """The same typed result for every strategy."""

    strategy: str
    answer: str | None  # the selected final answer (None if no candidate had one)
    solution: str  # the selected candidate's full text
    candidates: list[Node]  # finished solutions that selection chose among, with scores
    nodes: list[Node]  # the whole search, flat (candidates included)
    solver: Counts
    verifier: Counts
    budget: dict[str, int | None]  # Budget.summary() at the end
    stop_reason: str  # done | budget | max_rounds
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> Counts:
        return self.solver + self.verifier


@dataclass(frozen=True)
class Sample:
    text: str
    finish_reason: str | None
    tokens: int  # completion tokens


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
    tags: dict[str, Any] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    _counter: itertools.count[int] = field(default_factory=itertools.count, repr=False)

    # ---- planning ---------------------------------------------------------------------

    @property
    def verify_cost(self) -> int:
        """Generations (and tokens) one verifier call draws from the budget."""
        return 0 if self.verifier is None else self.verifier.generations_per_call

    def fits(self, samples: int, tokens_each: int = 1, verifies: int = 0) -> bool:
        """Do `samples` completions of `tokens_each` tokens plus `verifies` judgements fit?"""
        g, t = self.budget.generations_left, self.budget.tokens_left
        vc = self.verify_cost * verifies
        return (g is None or g >= samples + vc) and (t is None or t >= samples * tokens_each + vc)

    def tokens_each(self, samples: int, verifies: int, cap: int) -> int:
        """max_tokens per sample so that `samples` samples and `verifies` judgements fit."""
        t = self.budget.tokens_left
        if t is None or samples == 0:
            return cap
        return max(0, min(cap, (t - self.verify_cost * verifies) // samples))

    def most(self, wanted: int, *, verify: bool, tokens_each: int = 1) -> int:
        """The largest m <= wanted such that m samples (each judged if `verify`) fit."""
        m = wanted
        while m > 0 and not self.fits(m, tokens_each, m if verify else 0):
            m -= 1
        return m

    def next_seed(self) -> int | None:
        return None if self.seed is None else self.seed * 100_003 + next(self._counter)

    def key(self, prefix: str) -> str:
        return f"{prefix}{next(self._counter)}"

    # ---- calls ------------------------------------------------------------------------

    async def sample(self, messages: Sequence[Message], *, max_tokens: int,
                     stop: Sequence[str] | None = None, extra: dict[str, Any] | None = None,
                     temperature: float | None = None) -> Sample | None:
        """One completion, drawn from the budget; None if it does not fit (nothing spent)."""
        if max_tokens < 1:
            return None
        try:
            gen = await self.client.chat(
                messages, role="proposer", n=1, max_tokens=max_tokens,
                temperature=self.temperature if temperature is None else temperature,
                top_p=self.top_p, seed=self.next_seed(), stop=stop, budget=self.budget,
                extra=extra, tags=self.tags)
        except (BudgetExceeded, ContextLengthExceeded):
            return None
        self.ledger.add_generation(gen)
        c = gen.choices[0]
        return Sample(c.text, c.finish_reason, gen.usage.completion_tokens)

    async def judge(self, problem: str, steps: Sequence[str], *, complete: bool) -> float | None:
        """The verifier's score of the last step given; None if unverified or unaffordable."""
        if self.verifier is None or not self.fits(0, 1, 1):
            return None
        try:
            j = await self.verifier.judge(problem, steps, complete=complete, budget=self.budget,
                                          tags={**self.tags, "role": "verifier"})
        except BudgetExceeded:
            return None
        self.ledger.add_judgement(j)
        return j.scores[-1] if j.scores else None

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
            stop_reason=stop_reason, params=params)
