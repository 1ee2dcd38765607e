"""The fixed strategies by name: the ones a compute-optimal policy can choose.

`FIXED` maps a name to an async function `(problem, ctx, **params) -> StrategyResult`;
`get_fixed(name)` raises `KeyError` naming the choices. The complete registry, with
`compute-optimal` itself, is agent.strategies.registry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from worldplan.agent.strategies.beam import beam_search
from worldplan.agent.strategies.best_of_n import best_of_n
from worldplan.agent.strategies.dvts import dvts
from worldplan.agent.strategies.lookahead import lookahead_search
from worldplan.agent.strategies.records import StrategyResult
from worldplan.agent.strategies.revisions import revisions

Strategy = Callable[..., Awaitable[StrategyResult]]

FIXED: dict[str, Strategy] = {
    "best_of_n": partial(best_of_n, selection="weighted"),
    "best_of_n_naive": partial(best_of_n, selection="naive"),
    "majority": partial(best_of_n, selection="majority"),
    "revisions": revisions,
    "beam": beam_search,
    "lookahead": lookahead_search,
    "dvts": dvts,
}


def get_fixed(name: str) -> Strategy:
    if name not in FIXED:
        raise KeyError(f"unknown strategy {name!r}: choose one of {', '.join(FIXED)}")
    return FIXED[name]
