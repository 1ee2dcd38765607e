"""P("Yes") of a yes/no judgement from one generated token's top logprobs.

The generative verifier's primitive: ask a question whose answer is "Yes" or "No", generate
exactly one token with `top_logprobs`, and sum the probability mass of the top tokens that
read as yes and as no (case, spaces and punctuation ignored: "Yes", " yes", "YES." count).

`p_yes` is normalised over the yes/no mass: P(yes) / (P(yes) + P(no)). `mass` is that yes/no
mass itself; a mass below `min_mass` means the model did not answer yes or no, and `p_yes`
raises `NoVerdict` (holding the generation, which was paid for) rather than guess. Logprobs
that are not log-probabilities (nan, or above 0) are read as probability 0 and 1, so both
numbers stay in [0, 1] whatever the server sends. Costs one generation of one token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient, Message
from worldplan.worldmodel.llm.generation import Generation, TokenLogprob

YES = frozenset({"yes", "y", "true", "correct"})
NO = frozenset({"no", "n", "false", "incorrect"})


class NoVerdict(ValueError):
    """The model's answer was not yes or no (the yes/no mass among its top tokens is too
    small to read a probability from)."""

    def __init__(self, message: str, *, mass: float, generation: Generation) -> None:
        super().__init__(message)
        self.mass = mass
        self.generation = generation


@dataclass(frozen=True)
class YesNo:
    p_yes: float  # in [0, 1], normalised over yes + no
    mass: float  # P(yes) + P(no) among the top tokens, in [0, 1]
    generation: Generation


def _norm(token: str) -> str:
    return token.strip().strip(".,:;!\"'*").lower()


def yes_no_from_logprobs(token: TokenLogprob) -> tuple[float, float]:
    """(p_yes normalised, yes+no mass) from one token's top logprobs (pure function)."""
    top = token.probabilities()
    p_y = sum(p for t, p in top.items() if _norm(t) in YES)
    p_n = sum(p for t, p in top.items() if _norm(t) in NO)
    mass = p_y + p_n
    return (p_y / mass if mass > 0 else 0.5), min(mass, 1.0)


async def p_yes(
    client: LLMClient,
    messages: Sequence[Message],
    *,
    role: str = "verifier",
    top_logprobs: int = 20,
    budget: Budget | None = None,
    equivalents: int | None = None,
    tags: dict[str, Any] | None = None,
    min_mass: float = 0.01,
) -> YesNo:
    """Ask a yes/no question and read P("Yes") from the first token's distribution; raise
    NoVerdict when the yes/no mass is below `min_mass` (or no logprobs came back)."""
    gen = await client.chat(messages, role=role, n=1, max_tokens=1, temperature=0.0,
                            logprobs=True, top_logprobs=top_logprobs, budget=budget,
                            equivalents=equivalents, tags=tags)
    tokens = gen.choices[0].logprobs
    if not tokens:
        raise NoVerdict("the server sent no logprobs for the yes/no token", mass=0.0,
                        generation=gen)
    p, mass = yes_no_from_logprobs(tokens[0])
    if mass < min_mass:
        top = ", ".join(f"{t!r}" for t in list(tokens[0].top)[:5]) or repr(tokens[0].token)
        raise NoVerdict(f"yes/no mass {mass:.4f} < {min_mass:g}: the model answered {top}",
                        mass=mass, generation=gen)
    return YesNo(p, mass, gen)
