"""What calls cost: the server's token usage of one call, and its cost in the three budget
units (generation-equivalents, tokens, FLOPs); see worldmodel.llm.accounting for budgets.

Tokens are uncached prompt + completion tokens; FLOPs are 2 x parameters x those tokens
(prefix-cached prompt tokens cost nothing). Pure values, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    """Token usage of one call, as reported by the server (tokens)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int | None = None  # prompt tokens served from the prefix cache, if reported

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def uncached_prompt_tokens(self) -> int:
        return self.prompt_tokens - min(self.cached_tokens or 0, self.prompt_tokens)

    def billed_tokens(self, count_prompts: bool = True) -> int:
        """The token unit: uncached prompt + completion (completion only if not counting
        prompts)."""
        return self.completion_tokens + (self.uncached_prompt_tokens if count_prompts else 0)

    def __add__(self, other: Usage) -> Usage:
        cached: int | None
        if self.cached_tokens is None and other.cached_tokens is None:
            cached = None
        else:
            cached = (self.cached_tokens or 0) + (other.cached_tokens or 0)
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            cached,
        )


def estimate_flops(n_params: int | None, usage: Usage) -> float | None:
    """Forward-pass FLOPs of a call: 2 x parameters x (uncached prompt + completion tokens).

    The usual dense-transformer estimate (Kaplan et al. 2020); it ignores attention's
    quadratic term, and prefix-cached prompt tokens cost nothing (their keys and values are
    reused). Returns None when the parameter count is unknown.
    """
    if n_params is None:
        return None
    return 2.0 * n_params * usage.billed_tokens()


@dataclass(frozen=True)
class Cost:
    """What calls cost in the three units (agent results and traces report all three)."""

    generations: int = 0  # generation-equivalents charged
    tokens: int = 0  # uncached prompt + completion
    flops: float = 0.0  # 0 when the model's size is unknown

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.generations + other.generations, self.tokens + other.tokens,
                    self.flops + other.flops)
