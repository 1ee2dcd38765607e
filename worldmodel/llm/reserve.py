"""Reserving a call's worst case when other calls of the same budget are in flight.

Each call in flight holds its worst case (worldmodel.llm.accounting.Budget.reserve: its
whole prompt as uncached plus n x max_tokens), so a call may not fit, or get its max_tokens
clamped, only because of the others' reservations, which usually settle far lower (cached
prompts, early stops). `reserve_when_free` then waits for them (polling every
`CONTENTION_WAIT_S`, up to `timeout_s`) instead of failing or truncating; a call that does
not fit even with nothing else in flight fails at once with `BudgetExceeded`, and one that
is clamped with nothing in flight is clamped (the budget's own limit).
Not handled: fairness between waiting calls (the first to poll after a settle wins).
"""

from __future__ import annotations

import asyncio

from worldplan.worldmodel.llm.accounting import Budget, BudgetExceeded, Reservation

CONTENTION_WAIT_S = 0.05  # a call that fits only once others settle polls this often


async def reserve_when_free(budget: Budget, n: int, max_tokens: int, *, prompt_tokens: int,
                            equivalents: int | None, n_params: int | None,
                            timeout_s: float) -> Reservation:
    waited = 0.0
    while True:
        contended = budget.contended and waited < timeout_s
        try:
            res = budget.reserve(n, max_tokens, prompt_tokens=prompt_tokens,
                                 equivalents=equivalents, n_params=n_params)
        except BudgetExceeded:
            if not contended:
                raise
        else:
            if res.max_tokens >= max_tokens or not contended:
                return res
            budget.settle(res, None)  # clamped by the others' reservations: release
        await asyncio.sleep(CONTENTION_WAIT_S)
        waited += CONTENTION_WAIT_S
