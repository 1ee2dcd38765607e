"""What oracle solvers are made of: the `Oracle` type and helpers to read an observation.

An oracle reads observations (goal text and accessibility tree, with `[box=...]`
coordinates when the environment shows them) and answers actions of the agent's own
language. A one-shot oracle plans the whole episode from its first observation; a reactive
one (`reactive=True`) is asked again whenever its last plan is used up, with the page as it
is now and a `memo` dict it keeps across the episode, and ends the episode by answering [].

Helpers: `one` (the ref of the element with this role and name), `submit`, `quoted` (the
"..." strings of a goal), `js` (a string literal for an action), `box`/`center` (an
element's box), `nth` ("3rd" -> 2), `number`.
Not handled: the solvers themselves (`oracles_*` modules) and their registry (`oracles`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worldplan.envs.web.axtree import AxNode, find
from worldplan.envs.web.observation import WebObservation

Plan = list[str]
Memo = dict[str, Any]
Solver = Callable[[WebObservation, list[AxNode], Memo], Plan]


class OracleUnavailable(RuntimeError):
    """The solver cannot plan from this observation."""


@dataclass(frozen=True)
class Oracle:
    solve: Solver
    reactive: bool = False  # asked again after each plan runs out (see the docstring)
    boxes: bool = False  # needs the observation's element boxes (EnvConfig.boxes)

    def __call__(self, obs: WebObservation, nodes: list[AxNode], memo: Memo | None = None
                 ) -> Plan:
        return self.solve(obs, nodes, {} if memo is None else memo)


def once(fn: Callable[[WebObservation, list[AxNode]], Plan], *, boxes: bool = False) -> Oracle:
    """A one-shot oracle from a `(observation, nodes) -> plan` function."""
    return Oracle(lambda obs, nodes, memo: fn(obs, nodes), boxes=boxes)


def quoted(goal: str) -> list[str]:
    return re.findall(r'"([^"]*)"', goal)


def one(nodes: list[AxNode], role: str | None, name: str | None = None, *,
        text: str | None = None) -> str:
    hits = find(nodes, role, name, text=text)
    if not hits:
        raise OracleUnavailable(f"no {role or 'element'} {name or text or ''!r} in the tree")
    return hits[0].ref


def submit(nodes: list[AxNode], label: str = "Submit") -> str:
    return f'click("{one(nodes, "button", label)}")'


def js(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def box(node: AxNode) -> tuple[float, float, float, float]:
    """(x, y, width, height) in CSS px of the viewport; needs the observation's boxes."""
    raw = node.states.get("box")
    if raw is None:
        raise OracleUnavailable("the observation has no element boxes (EnvConfig.boxes)")
    x, y, w, h = (float(v) for v in raw.split(","))
    return x, y, w, h


def center(node: AxNode) -> tuple[float, float]:
    x, y, w, h = box(node)
    return round(x + w / 2), round(y + h / 2)


_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th)")


def nth(text: str) -> int:
    """The first ordinal of `text` as a 0-based index ("the 3rd box" -> 2)."""
    m = _ORDINAL.search(text)
    if m is None:
        raise OracleUnavailable(f"no ordinal in {text!r}")
    return int(m.group(1)) - 1


def number(text: str) -> float:
    m = re.search(r"-?\d+(?:\.\d+)?", text)
    if m is None:
        raise OracleUnavailable(f"no number in {text!r}")
    return float(m.group(0))


def refs_of(nodes: list[AxNode], role: str) -> list[str]:
    return [n.ref for n in find(nodes, role)]
