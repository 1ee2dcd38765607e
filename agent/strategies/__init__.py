"""Test-time-compute strategies for single-step problems (Snell et al. 2024).

`STRATEGIES` maps a name to an async function `(problem, ctx, **params) -> StrategyResult`;
the CLI, the runner and the benchmark choose strategies by these names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from agent.strategies.base import Node, SearchContext, StrategyResult
from agent.strategies.beam import beam_search
from agent.strategies.best_of_n import best_of_n
from agent.strategies.compute_optimal import compute_optimal
from agent.strategies.lookahead import lookahead_search
from agent.strategies.revisions import revisions

Strategy = Callable[..., Awaitable[StrategyResult]]

STRATEGIES: dict[str, Strategy] = {
    "best_of_n": partial(best_of_n, selection="weighted"),
    "best_of_n_naive": partial(best_of_n, selection="naive"),
    "majority": partial(best_of_n, selection="majority"),
    "revisions": revisions,
    "beam": beam_search,
    "lookahead": lookahead_search,
    "compute-optimal": compute_optimal,
}


async def _graph(problem: str, ctx: SearchContext, **params: Any) -> StrategyResult:
    """The agent graph (agent.graph_math) as a strategy; imported late: it imports us."""
    from agent.graph_math import graph_strategy

    return await graph_strategy(problem, ctx, **params)


STRATEGIES["graph"] = _graph


def get_strategy(name: str) -> Strategy:
    if name not in STRATEGIES:
        raise KeyError(f"unknown strategy {name!r}: choose one of {', '.join(STRATEGIES)}")
    return STRATEGIES[name]


def strategy_params(**params: Any) -> dict[str, Any]:
    """Drop unset (None) parameters, so each strategy's own defaults apply."""
    return {k: v for k, v in params.items() if v is not None}


__all__ = ["STRATEGIES", "Node", "SearchContext", "Strategy", "StrategyResult",
           "get_strategy", "strategy_params"]
