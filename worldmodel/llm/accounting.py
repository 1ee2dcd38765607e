"""Compute accounting: token usage of one call, FLOPs estimates, and budgets.

A `Budget` is drawn down by every LLM call. It is measured in *generations* (one sampled
completion = one generation, the unit of Snell et al. 2024) and/or in *generated tokens*
(completion tokens). Prompt tokens are recorded on every call but are not a budget unit:
their cost is dominated by prefix caching and is reported separately.

The guarantee is exact, not best-effort: before a call is sent, `Budget.reserve` checks that
`n` generations fit and clamps the call's `max_tokens` so that `n * max_tokens` fits in the
tokens left. A call that cannot fit even one token per sample raises `BudgetExceeded`.
After the call, `Budget.settle` charges what the server reported and releases the rest of
the reservation. Reservations make concurrent calls (asyncio tasks or threads) safe: the sum
of reservations in flight never exceeds what is left.

Not handled here: wall-clock budgets, and prompt-token budgets.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


class BudgetExceeded(RuntimeError):
    """A call would exceed its budget. Raised before the call is sent: nothing is spent."""

    def __init__(self, message: str, *, unit: str, needed: int, left: int) -> None:
        super().__init__(message)
        self.unit = unit
        self.needed = needed
        self.left = left


@dataclass(frozen=True)
class Usage:
    """Token usage of one call, as reported by the server (tokens)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int | None = None  # prompt tokens served from the prefix cache, if reported

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

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
    """Forward-pass FLOPs of a call: 2 x parameters x tokens processed (prompt + completion).

    The usual dense-transformer estimate (Kaplan et al. 2020); it ignores attention's
    quadratic term, and counts cached prompt tokens as processed (an upper bound).
    Returns None when the parameter count is unknown.
    """
    if n_params is None:
        return None
    return 2.0 * n_params * usage.total_tokens


@dataclass
class Reservation:
    """What one call holds of a budget while it is in flight."""

    generations: int
    tokens: int  # completion tokens reserved: n * max_tokens
    max_tokens: int  # the (possibly clamped) per-sample max_tokens to send


@dataclass
class Budget:
    """A budget of generations and/or completion tokens. None means unlimited in that unit.

    `spent_*` count what was actually used; `reserved_*` what calls in flight may still use.
    """

    max_generations: int | None = None
    max_tokens: int | None = None
    spent_generations: int = 0
    spent_tokens: int = 0
    spent_prompt_tokens: int = 0
    calls: int = 0
    reserved_generations: int = 0
    reserved_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def generations_left(self) -> int | None:
        if self.max_generations is None:
            return None
        return self.max_generations - self.spent_generations - self.reserved_generations

    @property
    def tokens_left(self) -> int | None:
        if self.max_tokens is None:
            return None
        return self.max_tokens - self.spent_tokens - self.reserved_tokens

    def can_afford(self, n: int = 1, tokens_per_sample: int = 1) -> bool:
        """True if n samples of at least `tokens_per_sample` tokens each fit now."""
        g, t = self.generations_left, self.tokens_left
        return (g is None or g >= n) and (t is None or t >= n * tokens_per_sample)

    def reserve(self, n: int, max_tokens: int) -> Reservation:
        """Hold n generations and up to n * max_tokens tokens, clamping max_tokens to fit.

        Raises BudgetExceeded if n generations, or one token per sample, do not fit.
        """
        if n < 1 or max_tokens < 1:
            raise ValueError(f"n and max_tokens must be >= 1, got n={n}, max_tokens={max_tokens}")
        with self._lock:
            g = self.generations_left
            if g is not None and n > g:
                raise BudgetExceeded(
                    f"budget exceeded: {n} generations requested, {g} left "
                    f"(of {self.max_generations})",
                    unit="generations",
                    needed=n,
                    left=g,
                )
            t = self.tokens_left
            if t is not None:
                per_sample = t // n
                if per_sample < 1:
                    raise BudgetExceeded(
                        f"budget exceeded: {n} samples need at least {n} tokens, {t} left "
                        f"(of {self.max_tokens})",
                        unit="tokens",
                        needed=n,
                        left=t,
                    )
                max_tokens = min(max_tokens, per_sample)
            res = Reservation(generations=n, tokens=n * max_tokens, max_tokens=max_tokens)
            self.reserved_generations += res.generations
            self.reserved_tokens += res.tokens
            return res

    def settle(self, res: Reservation, usage: Usage | None, generations: int | None = None) -> None:
        """Release a reservation and charge what was used (nothing if the call failed).

        A failed call (usage None) charges nothing: the server produced no completion.
        """
        with self._lock:
            self.reserved_generations -= res.generations
            self.reserved_tokens -= res.tokens
            if usage is None:
                return
            self.calls += 1
            self.spent_generations += res.generations if generations is None else generations
            self.spent_tokens += usage.completion_tokens
            self.spent_prompt_tokens += usage.prompt_tokens

    def child(
        self, max_generations: int | None = None, max_tokens: int | None = None
    ) -> SubBudget:
        """A sub-budget that draws from this one and has limits of its own (e.g. a probe)."""
        return SubBudget(parent=self, max_generations=max_generations, max_tokens=max_tokens)

    def summary(self) -> dict[str, int | None]:
        return {
            "max_generations": self.max_generations,
            "max_tokens": self.max_tokens,
            "spent_generations": self.spent_generations,
            "spent_tokens": self.spent_tokens,
            "spent_prompt_tokens": self.spent_prompt_tokens,
            "calls": self.calls,
        }


@dataclass
class SubBudget(Budget):
    """A budget nested in a parent: a call must fit both, and is charged to both."""

    parent: Budget | None = None

    def reserve(self, n: int, max_tokens: int) -> Reservation:
        own = super().reserve(n, max_tokens)
        assert self.parent is not None
        try:
            up = self.parent.reserve(n, own.max_tokens)
        except BudgetExceeded:
            super().settle(own, None)
            raise
        if up.max_tokens < own.max_tokens:  # the parent clamped further: shrink ours
            with self._lock:
                self.reserved_tokens -= own.tokens - up.tokens
        return up

    def settle(self, res: Reservation, usage: Usage | None, generations: int | None = None) -> None:
        super().settle(res, usage, generations)
        assert self.parent is not None
        self.parent.settle(res, usage, generations)
