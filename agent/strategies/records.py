"""What a search records and returns: its flat `Node`s, the `Counts` per role in the three
budget units (a `Ledger`), the `Sample`s of a request, and the typed `StrategyResult` every
strategy returns. Pure values; the context that fills them is agent.strategies.base.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from worldplan.worldmodel.llm.generation import Choice, Generation
from worldplan.worldmodel.llm.usage import Cost, Usage
from worldplan.worldmodel.math.verifier import Judgement


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
    """One role's calls in the three units, and the server's raw token figures."""

    calls: int = 0  # requests answered
    generations: int = 0  # generation-equivalents charged
    samples: int = 0  # completions sampled (a 1-token judgement is one; a PRM call none)
    prompt_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens served from the prefix cache
    completion_tokens: int = 0
    flops: float = 0.0  # 0 when the client does not know the model's size

    @property
    def tokens(self) -> int:
        """The token unit: uncached prompt + completion tokens."""
        return self.prompt_tokens - self.cached_tokens + self.completion_tokens

    @property
    def cost(self) -> Cost:
        return Cost(self.generations, self.tokens, self.flops)

    def add(self, usage: Usage, *, equivalents: int, samples: int, flops: float | None,
            calls: int = 1) -> None:
        self.calls += calls
        self.generations += equivalents
        self.samples += samples
        self.prompt_tokens += usage.prompt_tokens
        self.cached_tokens += min(usage.cached_tokens or 0, usage.prompt_tokens)
        self.completion_tokens += usage.completion_tokens
        self.flops += flops or 0.0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f) + getattr(other, f) for f in (
            "calls", "generations", "samples", "prompt_tokens", "cached_tokens",
            "completion_tokens", "flops")))


@dataclass
class Ledger:
    """What a strategy spent, per role, from the server's usage figures."""

    solver: Counts = field(default_factory=Counts)
    verifier: Counts = field(default_factory=Counts)

    def add_generation(self, gen: Generation, equivalents: int) -> None:
        self.solver.add(gen.usage, equivalents=equivalents, samples=len(gen.choices),
                        flops=gen.flops)

    def add_judgement(self, j: Judgement, samples: int) -> None:
        self.verifier.add(j.usage, equivalents=j.equivalents, samples=samples, flops=j.flops,
                          calls=j.calls)


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
    budget: dict[str, int | float | None]  # Budget.summary() at the end
    stop_reason: str  # done | budget | max_rounds
    params: dict[str, Any] = field(default_factory=dict)
    verifier_charged: bool = False

    @property
    def total(self) -> Counts:
        return self.solver + self.verifier

    @property
    def charged(self) -> Cost:
        """What was drawn from the budget: the solver's, and the verifier's if charged."""
        return self.total.cost if self.verifier_charged else self.solver.cost


@dataclass(frozen=True)
class Sample:
    text: str
    finish_reason: str | None
    tokens: int  # completion tokens (a request's total shared equally when n > 1)
    ended: bool = False  # the model ended it (end of sequence), not a stop string or length
    lp: dict[str, float] | None = None  # log-probability statistics, if they were asked for

    @classmethod
    def of(cls, c: Choice, tokens: int, lp: dict[str, float] | None = None) -> Sample:
        return cls(c.text, c.finish_reason, tokens, c.ended, lp)

    def about(self) -> dict[str, Any]:
        """What a learned verifier reads of the sample besides its judgement (Node.info)."""
        return {"lp": self.lp or {}, "tokens": self.tokens, "finish": self.finish_reason}
