"""Compute accounting: token usage of one call, its cost in three units, and budgets.

Three budget units (Snell et al. 2024 use the first; all three are counted on every call):
- *generations* (generation-equivalents, the paper's unit): what the caller says a call is
  worth (`equivalents`, by default its n samples). Strategies charge by construction: N
  full solutions cost N; beam search with N beams costs N (its first round is charged one
  per beam, later rounds nothing); lookahead k costs N(k + 1); a verifier call is free or
  charged as the strategy's context says (agent.strategies.base).
- *tokens*: uncached prompt tokens + completion tokens, as the server reports them (prompt
  tokens served from the prefix cache are free). `count_prompts=False` counts completion
  tokens only (the web agent's generated-token budget).
- *flops*: 2 x parameters x tokens of the unit above, per model (so calls to models of
  different sizes add up); prefix-cached prompt tokens cost nothing, which is the dense
  forward-pass estimate (Kaplan et al. 2020) without attention over the cached prefix.

The guarantee is exact, not best-effort: before a call is sent, `Budget.reserve` holds its
worst case (its equivalents; its whole prompt, taken as uncached, plus n x max_tokens),
clamping `max_tokens` so that the worst case fits, or raises `BudgetExceeded`. After the
call `Budget.settle` charges what the server reported and releases the rest, so concurrent
calls (asyncio tasks or threads) never overspend together. A token or FLOPs limit needs the
prompt's exact token count before the call (the client asks the server's /tokenize).

Calls in flight together (asyncio tasks) each hold their worst case, so a call may not fit,
or get its max_tokens clamped, only because of the others' reservations; `contended` says
so, and the client (worldmodel.llm.client) then waits for them to settle instead of failing
or truncating.
Not handled here: wall-clock budgets.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from worldplan.worldmodel.llm.usage import Usage, estimate_flops


class BudgetExceeded(RuntimeError):
    """A call would exceed its budget. Raised before the call is sent: nothing is spent."""

    def __init__(self, message: str, *, unit: str, needed: float, left: float) -> None:
        super().__init__(message)
        self.unit = unit
        self.needed = needed
        self.left = left


@dataclass
class Reservation:
    """What one call holds of a budget while it is in flight."""

    generations: int  # generation-equivalents
    tokens: int  # worst case: the whole prompt (if counted) + n * max_tokens
    flops: float  # 2 x params x tokens (0 without a FLOPs limit)
    max_tokens: int  # the (possibly clamped) per-sample max_tokens to send
    n_params: int | None = None


@dataclass
class Budget:
    """A budget of generation-equivalents, tokens and/or FLOPs; None is unlimited in that
    unit. `spent_*` count what was used; `reserved_*` what calls in flight may still use.

    `spent_tokens` is the token unit (uncached prompt + completion, or completion only with
    `count_prompts=False`); `spent_prompt_tokens` and `spent_cached_tokens` are the server's
    raw figures, whatever the unit.
    """

    max_generations: int | None = None
    max_tokens: int | None = None
    max_flops: float | None = None
    spent_generations: int = 0
    spent_tokens: int = 0
    spent_prompt_tokens: int = 0
    spent_cached_tokens: int = 0
    spent_completion_tokens: int = 0
    spent_flops: float = 0.0
    calls: int = 0
    count_prompts: bool = True
    reserved_generations: int = 0
    reserved_tokens: int = 0
    reserved_flops: float = 0.0
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

    @property
    def flops_left(self) -> float | None:
        if self.max_flops is None:
            return None
        return self.max_flops - self.spent_flops - self.reserved_flops

    @property
    def needs_prompt_count(self) -> bool:
        """Whether a call's prompt must be counted before it is sent (token or FLOPs limit)."""
        return (self.max_tokens is not None and self.count_prompts) or self.max_flops is not None

    @property
    def contended(self) -> bool:
        """Other calls hold reservations here (or in a parent): they may leave room when
        they settle, since a reservation is a worst case (a whole prompt as uncached)."""
        return bool(self.reserved_generations or self.reserved_tokens or self.reserved_flops)

    def can_afford(self, n: int = 1, tokens_per_sample: int = 1) -> bool:
        """True if n samples of at least `tokens_per_sample` tokens each (no prompt) fit."""
        g, t = self.generations_left, self.tokens_left
        return (g is None or g >= n) and (t is None or t >= n * tokens_per_sample)

    def reserve(self, n: int, max_tokens: int, *, prompt_tokens: int = 0,
                equivalents: int | None = None, n_params: int | None = None) -> Reservation:
        """Hold a call's worst case, clamping max_tokens to fit: `equivalents` (default n)
        generation-equivalents, its prompt (`prompt_tokens`, all taken as uncached) plus
        n * max_tokens tokens, and their FLOPs (2 x `n_params` per token).

        Raises BudgetExceeded if the equivalents, or the prompt and one token per sample, do
        not fit; ValueError if a FLOPs limit is set and `n_params` is unknown.
        """
        if n < 0 or (n > 0 and max_tokens < 1) or prompt_tokens < 0:
            raise ValueError(f"n >= 0, max_tokens >= 1 and prompt_tokens >= 0 are needed, got "
                             f"n={n}, max_tokens={max_tokens}, prompt_tokens={prompt_tokens}")
        eq = n if equivalents is None else equivalents
        prompt = prompt_tokens if self.count_prompts else 0
        with self._lock:
            g = self.generations_left
            if g is not None and eq > g:
                raise BudgetExceeded(
                    f"budget exceeded: {eq} generations requested, {g} left "
                    f"(of {self.max_generations})", unit="generations", needed=eq, left=g)
            per_sample = max_tokens
            t = self.tokens_left
            if t is not None:
                per_sample = min(per_sample, self._per_sample(t - prompt, n, "tokens",
                                                              prompt + n, t))
            fl = self.flops_left
            if fl is not None:
                if n_params is None:
                    raise ValueError("a FLOPs budget needs the model's parameter count "
                                     "(LLMClient n_params)")
                room = int(fl // (2.0 * n_params)) - prompt_tokens
                per_sample = min(per_sample, self._per_sample(
                    room, n, "flops", 2.0 * n_params * (prompt_tokens + n), fl))
            tokens = prompt + n * per_sample
            flops = 0.0 if fl is None or n_params is None else (
                2.0 * n_params * (prompt_tokens + n * per_sample))
            res = Reservation(eq, tokens, flops, per_sample, n_params)
            self.reserved_generations += res.generations
            self.reserved_tokens += res.tokens
            self.reserved_flops += res.flops
            return res

    def _per_sample(self, room: int, n: int, unit: str, needed: float, left: float) -> int:
        if n == 0:
            if room < 0:
                raise BudgetExceeded(f"budget exceeded: the prompt needs {needed:g} {unit}, "
                                     f"{left:g} left", unit=unit, needed=needed, left=left)
            return 1
        if room < n:
            raise BudgetExceeded(
                f"budget exceeded: the prompt and {n} samples of one token need {needed:g} "
                f"{unit}, {left:g} left", unit=unit, needed=needed, left=left)
        return room // n

    def settle(self, res: Reservation, usage: Usage | None) -> None:
        """Release a reservation and charge what was used (nothing if the call failed:
        the server produced no completion)."""
        with self._lock:
            self.reserved_generations -= res.generations
            self.reserved_tokens -= res.tokens
            self.reserved_flops -= res.flops
            if usage is None:
                return
            self.calls += 1
            self.spent_generations += res.generations
            self.spent_tokens += usage.billed_tokens(self.count_prompts)
            self.spent_prompt_tokens += usage.prompt_tokens
            self.spent_cached_tokens += min(usage.cached_tokens or 0, usage.prompt_tokens)
            self.spent_completion_tokens += usage.completion_tokens
            if res.n_params is not None:
                self.spent_flops += estimate_flops(res.n_params, usage) or 0.0

    def child(self, max_generations: int | None = None, max_tokens: int | None = None,
              max_flops: float | None = None) -> SubBudget:
        """A sub-budget that draws from this one and has limits of its own (e.g. a probe)."""
        return SubBudget(max_generations=max_generations, max_tokens=max_tokens,
                         max_flops=max_flops, count_prompts=self.count_prompts, parent=self)

    def token_counts(self) -> dict[str, int]:
        """The tokens spent, as the benchmarks report them (prompt, cached, completion)."""
        return {"prompt": self.spent_prompt_tokens, "cached": self.spent_cached_tokens,
                "completion": self.spent_completion_tokens}

    def summary(self) -> dict[str, int | float | None]:
        return {
            "max_generations": self.max_generations,
            "max_tokens": self.max_tokens,
            "max_flops": self.max_flops,
            "spent_generations": self.spent_generations,
            "spent_tokens": self.spent_tokens,
            "spent_flops": self.spent_flops,
            "spent_prompt_tokens": self.spent_prompt_tokens,
            "spent_cached_tokens": self.spent_cached_tokens,
            "spent_completion_tokens": self.spent_completion_tokens,
            "calls": self.calls,
            "count_prompts": self.count_prompts,
        }


@dataclass
class SubBudget(Budget):
    """A budget nested in a parent: a call must fit both, and is charged to both."""

    parent: Budget | None = None

    @property
    def needs_prompt_count(self) -> bool:
        assert self.parent is not None
        return super().needs_prompt_count or self.parent.needs_prompt_count

    def reserve(self, n: int, max_tokens: int, *, prompt_tokens: int = 0,
                equivalents: int | None = None, n_params: int | None = None) -> Reservation:
        own = super().reserve(n, max_tokens, prompt_tokens=prompt_tokens,
                              equivalents=equivalents, n_params=n_params)
        assert self.parent is not None
        try:
            up = self.parent.reserve(n, own.max_tokens, prompt_tokens=prompt_tokens,
                                     equivalents=equivalents, n_params=n_params)
        except BudgetExceeded:
            super().settle(own, None)
            raise
        if up.max_tokens < own.max_tokens:  # the parent clamped further: hold less here
            super().settle(own, None)
            own = super().reserve(n, up.max_tokens, prompt_tokens=prompt_tokens,
                                  equivalents=equivalents, n_params=n_params)
        return _Both(up.generations, up.tokens, up.flops, up.max_tokens, n_params, own)

    @property
    def contended(self) -> bool:
        assert self.parent is not None
        return super().contended or self.parent.contended

    def settle(self, res: Reservation, usage: Usage | None) -> None:
        own = res.own if isinstance(res, _Both) else res
        super().settle(own, usage)
        assert self.parent is not None
        self.parent.settle(res, usage)


@dataclass
class _Both(Reservation):
    """A sub-budget's reservation: the parent's, holding the child's own."""

    own: Reservation = field(default_factory=lambda: Reservation(0, 0, 0.0, 1))
