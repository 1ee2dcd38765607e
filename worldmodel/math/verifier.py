"""Verifiers of math solutions: a generative verifier (P("Yes") from the served model), a
process reward model (PRM) served by vLLM's pooling API, and step-score aggregation.

Both implement `Verifier.judge(problem, steps, complete=..., asked=..., budget=...,
equivalents=..., sample=...)` and return a `Judgement` (`sample`: what sampling gave of the
solution besides its text, e.g. log-probability statistics, for a verifier that reads it:
agent.strategies.learned_verifier; these two ignore it): per-step scores in [0, 1] plus what judging
cost. Both go through an `LLMClient`, so every judgement is counted, budgeted, traced and
replayable like any call. What a judgement is worth in generation-equivalents is the
caller's to say (`equivalents`: 0 when the verifier is free, as in Snell et al. 2024).
- `GenerativeVerifier` asks the served model one yes/no question and returns ONE score, for
  the last step given. The question continues the solution's own conversation (`asked`:
  the messages the solution was sampled from; by default the solver's prompt), so the
  server's prefix cache already holds the problem and the solution and only the question
  is new. A yes/no probability mass below `min_mass` is no verdict: an empty Judgement
  whose `detail` says so, never a silent 0.5.
- `PRMVerifier` POSTs to `/pooling` (vLLM >= 0.10, a PRM such as Qwen2.5-Math-PRM-7B served
  with `--runner pooling`) through `LLMClient.pool`: the assistant message is the steps,
  each followed by the step token (`<extra_0>`), task `token_classify`; the server answers
  one [P(bad), P(good)] row per step token and step i's score is row i's `positive_index`
  entry, so EVERY step is scored (min / prod aggregation need them). A wrong number of rows
  is a MalformedResponse.
- `aggregate(scores, how)` reduces step scores to one: last / min / prod / mean (pure);
  `split_steps(text)` cuts a whole solution into steps at blank lines.

Not handled: outcome reward models served by /classify, several solutions per PRM request.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient, Message
from worldplan.worldmodel.llm.errors import ContextLengthExceeded, MalformedResponse
from worldplan.worldmodel.llm.generation import Generation
from worldplan.worldmodel.llm.usage import Usage
from worldplan.worldmodel.llm.yesno import NoVerdict, p_yes
from worldplan.worldmodel.math.prompts import STEP_SEP, solver_messages, verifier_question

AGGREGATIONS: tuple[str, ...] = ("last", "min", "prod", "mean")
KINDS: tuple[str, ...] = ("generative", "prm", "learned")


def split_steps(text: str) -> list[str]:
    """A solution's steps: its blank-line-separated paragraphs (at least one)."""
    steps = [p.strip("\n") for p in text.split(STEP_SEP) if p.strip()]
    return steps or [text]


def aggregate(scores: Sequence[float], how: str = "last") -> float | None:
    """One score from step scores: the last, the minimum, the product or the mean.

    None for no scores (an unverified solution).
    """
    if not scores:
        return None
    if how == "last":
        return float(scores[-1])
    if how == "min":
        return float(min(scores))
    if how == "prod":
        return float(math.prod(scores))
    if how == "mean":
        return float(sum(scores) / len(scores))
    raise ValueError(f"unknown aggregation {how!r}: use one of {', '.join(AGGREGATIONS)}")


@dataclass(frozen=True)
class Judgement:
    """Scores of a (partial) solution's steps, and what judging cost."""

    scores: list[float]  # per judged step, in [0, 1]; [] when the judge gave no verdict
    usage: Usage  # tokens of the judging call(s)
    calls: int  # requests answered (failed ones are not counted)
    flops: float | None = None
    detail: str = ""  # why scores is empty, or the yes/no mass
    equivalents: int = 0  # generation-equivalents charged

    @classmethod
    def of(cls, gen: Generation, scores: list[float], detail: str,
           equivalents: int) -> Judgement:
        return cls(scores, gen.usage, 1, gen.flops, detail, equivalents)


class Verifier(Protocol):
    kind: str  # one of KINDS

    async def judge(self, problem: str, steps: Sequence[str], *, complete: bool,
                    asked: Sequence[Message] | None = None, budget: Budget | None = None,
                    equivalents: int = 0, tags: dict[str, Any] | None = None,
                    sample: Mapping[str, Any] | None = None) -> Judgement: ...


class GenerativeVerifier:
    """P("Yes") that a (partial) solution is correct, from the served chat model."""

    kind = "generative"

    def __init__(self, client: LLMClient, *, top_logprobs: int = 20,
                 min_mass: float = 0.01) -> None:
        self.client = client
        self.top_logprobs = top_logprobs
        self.min_mass = min_mass

    async def judge(self, problem: str, steps: Sequence[str], *, complete: bool,
                    asked: Sequence[Message] | None = None, budget: Budget | None = None,
                    equivalents: int = 0, tags: dict[str, Any] | None = None,
                    sample: Mapping[str, Any] | None = None) -> Judgement:
        messages = verifier_question(asked or solver_messages(problem), steps,
                                     complete=complete)
        try:
            yn = await p_yes(self.client, messages, top_logprobs=self.top_logprobs,
                             budget=budget, equivalents=equivalents, tags=tags,
                             min_mass=self.min_mass)
        except ContextLengthExceeded as e:  # nothing was generated, nothing charged
            return Judgement([], Usage(), 0, None, f"not judged: {e}")
        except NoVerdict as e:
            return Judgement.of(e.generation, [], f"no verdict: {e}", equivalents)
        return Judgement.of(yn.generation, [yn.p_yes], f"yes/no mass {yn.mass:.3f}",
                            equivalents)


class PRMVerifier:
    """A process reward model behind vLLM's `/pooling` endpoint (task token_classify),
    asked through `client` (an LLMClient pointed at the PRM's server)."""

    kind = "prm"

    def __init__(self, client: LLMClient, *, step_token: str = "<extra_0>",
                 positive_index: int = 1, system: str = "Please reason step by step, and put "
                 "your final answer within \\boxed{}.") -> None:
        self.client = client
        self.step_token = step_token
        self.positive_index = positive_index
        self.system = system

    @property
    def clients(self) -> tuple[LLMClient, ...]:
        """Its own server's client (to trace and close with the run's)."""
        return (self.client,)

    def messages(self, problem: str, steps: Sequence[str]) -> list[Message]:
        content = "".join(s.strip() + self.step_token for s in steps)
        return [{"role": "system", "content": self.system},
                {"role": "user", "content": problem},
                {"role": "assistant", "content": content}]

    async def judge(self, problem: str, steps: Sequence[str], *, complete: bool,
                    asked: Sequence[Message] | None = None, budget: Budget | None = None,
                    equivalents: int = 0, tags: dict[str, Any] | None = None,
                    sample: Mapping[str, Any] | None = None) -> Judgement:
        if not steps:
            return Judgement([], Usage(), 0, None, "no steps to judge")
        gen = await self.client.pool(self.messages(problem, steps), budget=budget,
                                     equivalents=equivalents, tags=tags)
        return Judgement.of(gen, self._scores(gen, n_steps=len(steps)), "", equivalents)

    def _scores(self, gen: Generation, *, n_steps: int) -> list[float]:
        rows = gen.pooled or []
        try:
            scores = [float(row[self.positive_index]) if len(row) > 1 else float(row[0])
                      for row in rows]
        except IndexError as e:
            raise MalformedResponse(f"{gen.url}/pooling rows have no column "
                                    f"{self.positive_index}: {rows[:4]}", url=gen.url) from e
        if len(scores) != n_steps:
            raise MalformedResponse(
                f"{gen.url}/pooling returned {len(scores)} step scores for {n_steps} steps: "
                f"is the step token {self.step_token!r} the one the PRM was trained with?",
                url=gen.url)
        if any(not 0.0 <= sc <= 1.0 for sc in scores):
            raise MalformedResponse(f"{gen.url}/pooling returned scores outside [0, 1]: "
                                    f"{scores[:8]}", url=gen.url)
        return scores
