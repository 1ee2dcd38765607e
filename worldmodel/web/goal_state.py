"""What a page shows of the items a goal names: ticked or not, and sections still closed.

Goals of form tasks name what to pick ("Select CLyI, yKw8ox and click Submit.", "Select
Iceland from the scroll list and click Submit.") and pages show whether each item is picked
(`[checked]` on a box or radio, `[selected]` on a list option). A submit button is right
only once they are; sections that must be opened first are tabs not yet `[expanded]`.
`goal_state(goal, nodes)` counts those facts of one page (the real page, or one a world
model imagines), and `GoalState.progress` folds them into one number, so that a page and
the page imagined after an action can be compared.

- Named items: the checkboxes, radios and options whose name the goal contains as whole
  words (case-insensitive; names shorter than 2 characters are ignored).
- Ticked others: checkboxes and radios that are ticked though the goal does not name them
  (options are left out: a list shows its default selection).
- Closed tabs: tabs with a name (any, not only those the goal names) that are neither
  `[expanded]` nor `[selected]`; on a tab widget the tabs not shown count too.
- Filled quotes: texts the goal quotes that a textbox holds, as written (case-sensitive: a
  field is right only with the goal's case; the bundled rankers were fitted so).
Limits: a goal that names an item to leave alone ("do not select X") reads as naming it, and
an item named by a common goal word ("Submit", "to") is counted as named;
items named by a synonym, a position or a colour are not found. Pure; no model calls.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from worldplan.envs.web.axtree import AxNode

TICKABLE = ("checkbox", "radio", "option")
_QUOTED = re.compile(r'"([^"]+)"')


def goal_quotes(goal: str) -> list[str]:
    """The texts the goal quotes (what to type, pick or click)."""
    return _QUOTED.findall(goal)


def ticked(node: AxNode) -> bool:
    """Whether a box or radio is `[checked]` (true, not mixed) or an option `[selected]`
    (callers pass checkboxes, radios and options only)."""
    return node.states.get("checked") == "true" or "selected" in node.states


def names_in(goal: str, name: str) -> bool:
    """Whether `goal` contains `name` as whole words (case-insensitive, 2+ characters)."""
    name = name.strip().lower()
    if len(name) < 2:
        return False
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", goal.lower()) is not None


@dataclass(frozen=True)
class GoalState:
    """One page's facts about its goal (see the module docstring); counts of nodes."""

    named: int = 0  # tickable items the goal names
    ticked_named: int = 0  # of them, ticked
    ticked_other: int = 0  # boxes and radios ticked that the goal does not name
    closed_tabs: int = 0  # tabs with a name, neither expanded nor selected
    filled_quotes: int = 0  # goal-quoted texts held by a textbox

    @property
    def unticked(self) -> int:
        """Named items still to tick."""
        return self.named - self.ticked_named

    @property
    def items_done(self) -> bool:
        """The goal names items, every one is ticked, and nothing else is."""
        return self.named > 0 and self.unticked == 0 and self.ticked_other == 0

    @property
    def progress(self) -> int:
        """Ticked named items and filled quotes, less wrongly ticked items and closed tabs
        (higher is nearer the goal; only differences between pages of one task mean
        anything)."""
        return self.ticked_named + self.filled_quotes - self.ticked_other - self.closed_tabs


def goal_state(goal: str, nodes: Sequence[AxNode]) -> GoalState:
    """The goal's facts on the page `nodes` (envs.web.axtree.parse_tree of its tree)."""
    named = [n for n in nodes if n.role in TICKABLE and names_in(goal, n.name)]
    mine = {id(n) for n in named}
    others = [n for n in nodes if n.role in ("checkbox", "radio") and id(n) not in mine]
    quotes = [q for q in goal_quotes(goal) if q.strip()]
    texts = [n.text for n in nodes if n.role == "textbox" and n.text]
    return GoalState(
        named=len(named),
        ticked_named=sum(ticked(n) for n in named),
        ticked_other=sum(ticked(n) for n in others),
        closed_tabs=sum(1 for n in nodes if n.role == "tab" and n.name
                        and "expanded" not in n.states and "selected" not in n.states),
        filled_quotes=sum(any(q in t for t in texts) for q in quotes))
