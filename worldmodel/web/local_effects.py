"""The effects an action has on its own element, computed from the page instead of asked.

A 1.5B world model predicts page changes worse than "nothing changes" does (exact match
0.10 against 0.27 on the recorded dev transitions), yet most of what an agent does has an
effect the page states outright: a `fill` puts its text in the field, a `check` ticks the
box (and a radio unticks the other radios of its group), a `select_option` moves
`[selected]` to the chosen option, and a click on a paragraph, a heading or a textbox
changes nothing a tree shows (focus marks are not part of a change, see page_diff).
`local_change(tree, action)` returns that change as a `page_diff.PageChange`, or None when
the effect is not local or not certain (a button, a link, a tab, a generic element, an
unknown ref, a line it cannot rebuild): the caller asks the LLM world model then
(worldmodel.web.local_first).
Scope: the tree text of envs.web.axtree; one action. What it cannot know and does not
claim: handlers a page attaches to fields and boxes (an autocomplete list after a fill, a
form that submits on a tick), the end of an episode. Pure; no model calls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from worldplan.envs.web.actions import ActionError, parse_action
from worldplan.envs.web.axtree import AxNode, children, parent, parse_tree
from worldplan.worldmodel.web.page_diff import PageChange, normalise_line, tree_line

INERT = frozenset({"paragraph", "heading", "dialog", "status", "tabpanel", "textbox",
                   "combobox", "listbox", "img", "separator", "text"})  # a click shows nothing
FIELDS = frozenset({"textbox", "searchbox", "spinbutton"})
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"})
_QUOTE = re.compile(r"^\s|\s$|^-|:(\s|$)|\s#|[\n\r{}`]|^[&*\],?!>|@\"'#%\[]")
_HIDDEN = ("active", "cursor", "box")  # marks the display form drops


def _needs_quotes(text: str) -> bool:
    """Whether the tree (YAML) writes `text` quoted: a number, a YAML word, or a text
    whose characters a YAML scalar cannot start with or hold."""
    try:
        float(text)
        return True
    except ValueError:
        return text.lower() in _YAML_WORDS or bool(_QUOTE.search(text))


def _render(node: AxNode, states: dict[str, str], text: str) -> str:
    """A node as a display line (page_diff.tree_line), with `states` and `text`."""
    out = node.role + (f' "{node.name}"' if node.name else "")
    for k, v in states.items():
        if k not in _HIDDEN:
            out += f" [{k}]" if v == "true" else f" [{k}={v}]"
    if node.ref:
        out += f" [ref={node.ref}]"
    if text:
        out += ": " + (json.dumps(text) if _needs_quotes(text) else text)
    elif node.line.rstrip().endswith(":"):
        out += ":"
    return out


def _line(node: AxNode, states: dict[str, str] | None = None, text: str | None = None
          ) -> str | None:
    """The node's display line with new states or text; None when the node's own line
    cannot be rebuilt (then neither can its changed line be trusted)."""
    if normalise_line(_render(node, node.states, node.text)) != normalise_line(node.line):
        return None
    return _render(node, node.states if states is None else states,
                   node.text if text is None else text)


def _pair(node: AxNode, states: dict[str, str] | None = None, text: str | None = None
          ) -> tuple[str, str] | None:
    """(the node's line, its line with new states or text); None as `_line`."""
    new = _line(node, states, text)
    return None if new is None else (tree_line(node.line), new)


def _with(states: dict[str, str], key: str, on: bool) -> dict[str, str]:
    out = {k: v for k, v in states.items() if k != key}
    if on:  # the tree writes [checked] / [selected] before other states
        out = {key: "true", **out}
    return out


def _changes(pairs: Sequence[tuple[str, str] | None]) -> PageChange | None:
    if any(p is None for p in pairs):
        return None
    return PageChange(changed=tuple(p for p in pairs if p is not None and p[0] != p[1]))


def _tick(nodes: Sequence[AxNode], at: int, on: bool) -> PageChange | None:
    node = nodes[at]
    on_now = node.states.get("checked") == "true"
    if node.role == "checkbox":
        return _changes([] if on_now == on else [_pair(node, states=_with(node.states,
                                                                          "checked", on))])
    if node.role != "radio" or not on:
        return None
    if on_now:
        return PageChange()
    group: list[AxNode] = []
    up = at
    for _level in range(2):  # a radio's group: the radios of its parent, else grandparent
        up = parent(nodes, up)
        scope = children(nodes, up) if up >= 0 else list(nodes)
        radios = [n for n in scope if n.role == "radio" and n is not node]
        if radios:
            group = [n for n in radios if n.states.get("checked") == "true"]
            break
    return _changes([_pair(node, states=_with(node.states, "checked", True))]
                    + [_pair(n, states=_with(n.states, "checked", False)) for n in group])


def _select(options: Sequence[AxNode], label: str) -> PageChange | None:
    pick = [o for o in options if o.role == "option" and label in (o.name, o.text)]
    if len(pick) != 1:
        return None
    if pick[0].states.get("selected") == "true":
        return PageChange()
    old = [o for o in options if o.role == "option" and o.states.get("selected") == "true"]
    return _changes([_pair(o, states=_with(o.states, "selected", False)) for o in old]
                    + [_pair(pick[0], states=_with(pick[0].states, "selected", True))])


def local_change(tree: str, action: str) -> PageChange | None:
    """The change `action` makes to its own element (see the module docstring), or None
    when that is not local or not certain."""
    try:
        a = parse_action(action)
    except ActionError:
        return None
    nodes = parse_tree(tree)
    ref = str(a.args.get("ref", ""))
    at = next((i for i, n in enumerate(nodes) if ref and n.ref == ref), None)
    if at is None:
        return None
    node = nodes[at]
    if a.name == "fill" and node.role in FIELDS:
        text = str(a.args.get("text", ""))
        return PageChange() if node.text == text else _changes([_pair(node, text=text)])
    if a.name == "check":
        return _tick(nodes, at, True)
    if a.name == "select_option" and node.role in ("combobox", "listbox"):
        return _select(children(nodes, at), str(a.args.get("label", "")))
    if a.name != "click":
        return None
    if node.role in ("checkbox", "radio"):
        return _tick(nodes, at, not (node.role == "checkbox"
                                     and node.states.get("checked") == "true"))
    if node.role == "option":
        up = parent(nodes, at)
        if up >= 0 and nodes[up].role == "listbox":
            return _select(children(nodes, up), node.name or node.text)
        return None
    if node.role in INERT and not children(nodes, at):
        return PageChange()
    return None
