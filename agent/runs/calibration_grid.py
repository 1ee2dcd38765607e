"""The calibration grid: the strategy configurations a calibration run tries, and its cells.

`parse_grid("best_of_n;beam:n_beams=4,width=2")` gives `GridEntry`s (a strategy and its
parameters, values read as int, else text; unknown strategy names fail here, before any
run); a `GridCell` is one entry at one budget (generations per problem).
Not handled: running the cells (agent.runs.calibration).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from worldplan.agent.control.grid_fit import config_key
from worldplan.agent.math.solvers import get_solver


@dataclass(frozen=True)
class GridEntry:
    strategy: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return config_key(self.strategy, self.params)


DEFAULT_GRID = "best_of_n;revisions:per_chain=2;revisions:per_chain=4;beam:n_beams=4,width=2"


def parse_grid(spec: str) -> list[GridEntry]:
    """"best_of_n;beam:n_beams=4,width=2" -> grid entries (values read as int, else text)."""
    out = []
    for item in (s.strip() for s in spec.split(";")):
        if not item:
            continue
        name, _, rest = item.partition(":")
        params: dict[str, Any] = {}
        for kv in (p for p in rest.split(",") if p.strip()):
            k, sep, v = kv.partition("=")
            if not sep:
                raise ValueError(f"grid entry {item!r}: use name:key=value,key=value")
            params[k.strip()] = int(v) if v.strip().lstrip("-").isdigit() else v.strip()
        get_solver(name.strip())  # unknown names fail here, before any run
        out.append(GridEntry(name.strip(), params))
    if not out:
        raise ValueError(f"empty grid {spec!r}")
    return out


@dataclass(frozen=True)
class GridCell:
    """One cell of the grid: a configuration at a budget (generations per problem)."""

    budget: int
    entry: GridEntry
