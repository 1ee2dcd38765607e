"""Candidates beyond the proposer's samples: the page's one-gesture actions (`expand`).

A small proposer samples the same few actions again and again (on click-checkboxes, eight
samples at temperature 0.8 never once click Submit), so a judge choosing among its samples
cannot choose what it was never shown. `one_gesture_actions(obs, limit)` lists, in page
order, the actions that need no text: `check(ref)` for an unchecked checkbox, radio or
switch, and `click(ref)` for an element a person could click: an interactive role
(`CLICK_ROLES`) or any element the page marks `[cursor=pointer]`. Text fields, selects and
unnamed containers are left to the proposer (their actions need a text the page does not
give). `expanded(obs, proposed, avoid, limit)`: those actions less the ones proposed or
avoided (the trailing actions that changed nothing), at most `limit`.

The agent adds them after the proposals as candidates of count 0: they take no part in the
majority vote or in the proposals' agreement (agent.web.difficulty), only in a search's
roots, where the judge (with or without the world model's prediction) scores them like any
proposal. Their cost is the search's: one imagined state each.
Pure functions. Not handled: ranking them by the proposer's likelihood (vLLM skips the
prefix cache for prompt logprobs, so scoring each would prefill the whole page again).
"""

from __future__ import annotations

import re
from collections.abc import Collection

from worldplan.envs.web.actions import canonical_action, parse_action
from worldplan.worldmodel.web.action_grammar import CHECK_ROLES, page_tree

CLICK_ROLES = frozenset({
    "button", "link", "tab", "option", "menuitem", "menuitemcheckbox", "menuitemradio",
    "treeitem", "switch", "checkbox", "radio", "gridcell", "columnheader", "rowheader",
    "slider", "spinbutton"})
# one element line of an aria snapshot: role, the rest of the line, its ref
_LINE = re.compile(r"^\s*-\s+'?([A-Za-z]+)\b([^\n]*?)\[ref=((?:f\d+)?e\d+)\]([^\n]*)$", re.M)


def one_gesture_actions(obs: str, limit: int | None = None) -> list[str]:
    """The page's no-text actions (see the module docstring), canonical, in page order."""
    out: list[str] = []
    seen: set[str] = set()
    for m in _LINE.finditer(page_tree(obs)):
        role, before, ref, after = m.group(1).lower(), m.group(2), m.group(3), m.group(4)
        if ref in seen:
            continue
        seen.add(ref)
        marks = before + after
        if role in CHECK_ROLES:
            if "[checked]" in marks:
                continue
            action = f'check("{ref}")'
        elif role in CLICK_ROLES or "[cursor=pointer]" in marks:
            action = f'click("{ref}")'
        else:
            continue
        out.append(str(parse_action(action)))
        if limit is not None and len(out) >= limit:
            break
    return out


def expanded(obs: str, proposed: Collection[str], avoid: Collection[str] = (),
             limit: int = 8) -> list[str]:
    """At most `limit` one-gesture actions that are neither proposed nor avoided (actions
    compared in canonical form), in page order."""
    if limit <= 0:
        return []
    skip = {canonical_action(a) for a in (*proposed, *avoid)}
    return [a for a in one_gesture_actions(obs) if a not in skip][:limit]
