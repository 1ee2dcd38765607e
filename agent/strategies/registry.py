"""Every test-time-compute strategy for single-step problems, by name (Snell et al. 2024).

`STRATEGIES` maps a name to an async function `(problem, ctx, **params) -> StrategyResult`:
the fixed strategies (agent.strategies.fixed) and `compute-optimal`, which chooses one of
them per problem. The math runner's table adds the agent graph (agent.math.solvers).
"""

from __future__ import annotations

from worldplan.agent.strategies.compute_optimal import NAME, compute_optimal
from worldplan.agent.strategies.fixed import FIXED, Strategy

STRATEGIES: dict[str, Strategy] = {**FIXED, NAME: compute_optimal}


def get_strategy(name: str) -> Strategy:
    if name not in STRATEGIES:
        raise KeyError(f"unknown strategy {name!r}: choose one of {', '.join(STRATEGIES)}")
    return STRATEGIES[name]
