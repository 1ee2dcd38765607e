"""Oracle solvers for MiniWoB++ tasks, written in the agent's own action language.

An oracle (`oracle_kit.Oracle`) reads observations (goal text and accessibility tree, with
element boxes when the environment shows them) and answers action strings, e.g.
`['fill("e3", "Jerald")', 'click("e4")']`. Its actions go through the same parser,
dispatcher, guard and reward reading as any agent's, so reward 1.0 over many seeds shows
three things at once: the task is solvable in this action space, references are stable,
and the reward is read right. `ORACLES` maps a task name to its oracle:

- `oracles_basic`: one-shot plans for clicking, choosing and typing tasks;
- `oracles_forms`: one-shot plans that read the page (tables, texts, sums, layouts);
- `oracles_pointer`: coordinates, drags, the keyboard on the focused element, time;
- `oracles_reactive`: tasks that answer each action (menus, tabs, sections, search
  results, contacts, autocomplete lists, date pickers, guessing, a terminal), asked again
  at every step; `oracles_email`: the email inbox tasks, and `oracles_feedback`: games
  and feedback (guessing, generating, a price, a terminal, sorting), likewise.

`OracleUnavailable` means an observation did not look as the solver expects (a bug, or a
page change) and fails the episode loudly. `cheat(task, obs)` is an oracle's first plan.
`ORACLES` reach reward 1.0 on every seed tried; `PARTIAL` ones miss on some seeds, for the
reasons in `PARTIAL_REASONS`; `oracle_for(task)` looks in both.
Not handled: tasks no oracle reaches (colours, shapes drawn in SVG or canvas, timing games):
`worldplan web --agent oracle --suite miniwob-all` lists them.
"""

from __future__ import annotations

from worldplan.envs.web.axtree import parse_tree
from worldplan.envs.web.observation import WebObservation
from worldplan.envs.web.oracle_kit import Memo, Oracle, OracleUnavailable, Plan
from worldplan.envs.web.oracles_basic import BASIC
from worldplan.envs.web.oracles_email import EMAIL
from worldplan.envs.web.oracles_feedback import FEEDBACK
from worldplan.envs.web.oracles_forms import FORMS
from worldplan.envs.web.oracles_pointer import POINTER
from worldplan.envs.web.oracles_reactive import REACTIVE

__all__ = ["ORACLES", "PARTIAL", "Oracle", "OracleUnavailable", "Plan", "cheat", "needs_boxes",
           "oracle_for"]

# Oracles known to miss on some seeds, and why; the rest reach reward 1.0 on every seed tried
# (benchmarks/results/oracle_sweep.json).
PARTIAL_REASONS = {
    "click-pie": "the wheel's first item starts selected and does not answer clicks",
    "click-pie-nodelay": "the wheel's first item starts selected and does not answer clicks",
    "click-menu-2": "goals naming an item by its icon: icons have no name in the tree",
    "button-delay": "timed: the second click must come within 15% of the delay; the time "
                    "between two steps is not the agent's to fix on a loaded machine",
    "stock-market": "timed: the price moves every 100 ms and may pass the limit between "
                    "the observation and the click",
}
_ALL: dict[str, Oracle] = {**BASIC, **FORMS, **POINTER, **REACTIVE, **EMAIL, **FEEDBACK}
ORACLES: dict[str, Oracle] = {t: o for t, o in _ALL.items() if t not in PARTIAL_REASONS}
PARTIAL: dict[str, Oracle] = {t: _ALL[t] for t in PARTIAL_REASONS}


def oracle_for(task: str) -> Oracle | None:
    """The task's oracle, a partial one included (None: no oracle)."""
    return ORACLES.get(task) or PARTIAL.get(task)


def cheat(task: str, obs: WebObservation, memo: Memo | None = None) -> Plan:
    """The oracle's plan for `task` from this observation (for a one-shot oracle, the
    episode's first observation; a reactive oracle is asked again at each step)."""
    oracle = oracle_for(task)
    if oracle is None:
        raise KeyError(f"no oracle for {task!r}; oracles exist for {sorted(_ALL)}")
    return oracle(obs, parse_tree(obs.axtree), memo)


def needs_boxes(tasks: list[str] | tuple[str, ...]) -> bool:
    """Whether an oracle of these tasks reads element boxes (EnvConfig.boxes)."""
    return any(o.boxes for o in map(oracle_for, tasks) if o is not None)
