"""What the page, the goal and the history say about one candidate action, as numbers.

A small judge reads a 1,500-token page and misses facts that the page states outright: the
field already shows the text a `fill` would type, the box a `check` would tick is already
[checked], the action was done two steps ago, a submit button is offered while a textbox is
still empty, or while a text the goal quotes is nowhere on the page yet (not typed).
`action_features(goal, obs, history, action, facts, judge_p, judge_rank)` writes such facts
of one candidate, with the proposer's votes and (when asked) the choice judge's probability,
as a vector named by `FEATURES`; a fitted ranker (worldmodel.web.action_ranker) weighs them.
The goal's named items (worldmodel.web.goal_state) give three facts of a button: some item
the goal names is not ticked yet, every named item is ticked and nothing else, a section
(tab) is still closed.
`is_no_op(nodes, action)`: the page already shows the action's effect (fill, check,
select_option, a click on a checked radio or on a list's only selected option), so doing it
changes nothing.
Scope: the accessibility-tree text of `envs.web.observation` (a prompt rendering is fine: its
non-tree lines are skipped); an action whose ref is not on the page gets the `missing`
feature and no element features; one that does not parse gets neither verb nor element.
A box is checked when its state is `[checked]` (true), not `[checked=mixed]`. Pure
functions, no model calls.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from worldplan.envs.web.actions import ActionError, canonical_action, parse_action
from worldplan.envs.web.axtree import AxNode, children, parent, parse_tree
from worldplan.worldmodel.web.goal_state import goal_quotes, goal_state
from worldplan.worldmodel.web.prompts import unannotated

VERBS = ("click", "fill", "check", "select_option", "press", "type", "scroll", "hover")
ROLES = ("button", "textbox", "checkbox", "radio", "link", "combobox", "option", "listitem",
         "generic", "tab", "heading", "spinbutton")
JUDGE_FEATURES = ("judge_log_p", "judge_top")
FEATURES = (*JUDGE_FEATURES, "vote_share", "proposed", "greedy", "no_op", "done_before",
            "repeats_last", "goal_overlap", "goal_shares_word", "text_in_goal",
            "button_with_empty_field", "button_with_pending_text", "button_unticked_goal_item",
            "button_goal_items_done", "button_closed_tab", "missing", "checked",
            *(f"verb_{v}" for v in VERBS), *(f"role_{r}" for r in ROLES))
_WORD = re.compile(r"[a-z0-9]+")
MIN_P = 1e-4  # floor of the judge's probability before its log


@dataclass(frozen=True)
class OptionFacts:
    """What the proposer said of one candidate: its votes among `proposals` samples, and
    whether it is the greedy reply (an enumerated action: 0 votes, not greedy)."""

    votes: int = 0
    proposals: int = 0
    greedy: bool = False


def words(text: str) -> set[str]:
    """The text's lowercase words (letters and digits)."""
    return set(_WORD.findall(text.lower()))


def _checked(node: AxNode) -> bool:
    return node.states.get("checked") == "true"


def is_no_op(nodes: Sequence[AxNode], action: str) -> bool:
    """Whether the page already shows what `action` would do: a fill of the text the field
    holds, a check of a [checked] box, a select_option of the option already [selected], a
    click on a [checked] radio or on its list's only [selected] option. False for every
    other action, and when unsure."""
    try:
        a = parse_action(action)
    except ActionError:
        return False
    ref = str(a.args.get("ref", ""))
    at = next((i for i, n in enumerate(nodes) if ref and n.ref == ref), None)
    if at is None:
        return False
    node = nodes[at]
    if a.name == "fill":
        return node.text == str(a.args.get("text", ""))
    if a.name == "check":
        return _checked(node)
    if a.name == "click" and node.role == "radio":
        return _checked(node)
    if a.name == "click" and node.role == "option" and "selected" in node.states:
        up = parent(nodes, at)
        options = [n for n in (children(nodes, up) if up >= 0 else nodes) if n.role == "option"]
        return sum("selected" in n.states for n in options) == 1
    if a.name == "select_option":
        want = str(a.args.get("label", ""))
        for child in children(nodes, at):
            if child.role == "option" and "selected" in child.states:
                return child.name == want
    return False


def action_features(goal: str, obs: str, history: Sequence[str], action: str,
                    facts: OptionFacts, judge_p: float | None = None,
                    judge_rank: int | None = None, *,
                    nodes: Sequence[AxNode] | None = None) -> list[float]:
    """One candidate's features, aligned with FEATURES (see the module docstring).
    `history`: the actions done so far (UNCHANGED marks allowed); `judge_p`/`judge_rank`: the
    choice judge's probability and rank (0 = its pick) of this action, None when not asked
    (both judge features 0); `nodes`: `parse_tree(obs)`, when the caller has it already."""
    nodes = parse_tree(obs) if nodes is None else nodes
    done = [canonical_action(h) for h in unannotated(history)]
    try:
        parsed = parse_action(action)
        verb, args = parsed.name, parsed.args
    except ActionError:
        verb, args = "", {}
    ref = str(args.get("ref", ""))
    node = next((n for n in nodes if ref and n.ref == ref), None)
    role = node.role if node is not None else ""
    label = words(node.label) if node is not None else set()
    goal_words = words(goal)
    text = str(args.get("text", args.get("label", "")))
    empty_fields = sum(1 for n in nodes if n.role == "textbox" and not n.text)
    shown = " ".join(f"{n.name} {n.text}" for n in nodes).lower()
    pending = any(n.role == "textbox" for n in nodes) and any(
        q.lower() not in shown for q in goal_quotes(goal))
    state = goal_state(goal, nodes)
    me = canonical_action(action)
    out = [math.log(max(judge_p, MIN_P)) if judge_p is not None else 0.0,
           float(judge_rank == 0),
           facts.votes / facts.proposals if facts.proposals else 0.0,
           float(facts.votes > 0), float(facts.greedy),
           float(is_no_op(nodes, action)), float(me in done),
           float(bool(done) and me == done[-1]),
           len(label & goal_words) / len(label) if label else 0.0,
           float(bool(label & goal_words)),
           float(bool(text) and text.lower() in goal.lower()),
           float(role == "button" and empty_fields > 0),
           float(role == "button" and pending),
           float(role == "button" and state.unticked > 0),
           float(role == "button" and state.items_done),
           float(role == "button" and state.closed_tabs > 0),
           float(bool(ref) and node is None),
           float(node is not None and _checked(node))]
    out += [float(verb == v) for v in VERBS]
    out += [float(role == r) for r in ROLES]
    return out
