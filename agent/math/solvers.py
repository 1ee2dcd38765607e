"""Every way `worldplan math` can solve a problem, by name.

`SOLVERS` is the strategies' registry (agent.strategies.registry) plus `graph`: the agent
graph running the problem as a one-step episode (agent.math.domain.graph_strategy). Each is
an async function `(problem, ctx, **params) -> StrategyResult`, so the runner, calibration
and the benchmarks treat them alike.
"""

from __future__ import annotations

from worldplan.agent.math.domain import graph_strategy
from worldplan.agent.strategies.fixed import Strategy
from worldplan.agent.strategies.registry import STRATEGIES

SOLVERS: dict[str, Strategy] = {**STRATEGIES, "graph": graph_strategy}


def get_solver(name: str) -> Strategy:
    if name not in SOLVERS:
        raise KeyError(f"unknown strategy {name!r}: choose one of {', '.join(SOLVERS)}")
    return SOLVERS[name]
