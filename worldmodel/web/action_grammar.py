"""The actions legal on a page, as a regular expression for vLLM's structured outputs.

`legal_actions(tree)` reads the accessibility tree's elements (`- role "name" [ref=e4]`
lines, nested or not) and allows, per element role:

    click(ref)                 every element with a ref
    fill(ref, text)            textbox, searchbox, combobox, spinbutton
    press(ref, key)            the same, with a key of `KEYS`
    select_option(ref, label)  combobox, listbox
    check(ref)                 checkbox, radio, switch, menuitemcheckbox, menuitemradio
and, always, `scroll(0, dy)`, `noop()` and `stop(answer)`. `action_regex(tree)` is the
regular expression of exactly those calls, in the canonical form the action parser reads
(`click("e4")`, `fill("e3", "text")`: double quotes, one space after a comma); texts are
at most `TEXT_CHARS` characters without quotes, backslashes or control characters. Passed to the
server as `{"structured_outputs": {"regex": ...}}`, it makes an invalid proposal
impossible: every reply parses (envs.web.actions.parse_action) and names a ref that is on
the page. A page without refs still allows scroll, noop and stop. `avoid` takes actions
that must not be offered again (the agent passes the trailing executed actions that left
the page unchanged): each one's verb is withheld from its ref (a fill, with any text), so a
constrained proposer cannot repeat an action that was just seen to do nothing.

Pure functions. Not handled: the raw input gestures (click_at, drag, type, key: pages
without refs need an unconstrained proposer), options of a listbox as a closed choice.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, replace

from worldplan.envs.web.actions import ActionError, parse_action

TEXT_CHARS = 40  # characters of a typed text, an option label or a stop answer
KEYS = ("Enter", "Tab", "Escape", "ArrowDown", "ArrowUp", "Backspace")
FILL_ROLES = frozenset({"textbox", "searchbox", "combobox", "spinbutton"})
SELECT_ROLES = frozenset({"combobox", "listbox"})
CHECK_ROLES = frozenset({"checkbox", "radio", "switch", "menuitemcheckbox", "menuitemradio"})
MAX_REFS = 400  # elements allowed in one grammar (a larger page keeps its first ones)

_ELEMENT = re.compile(r"^\s*-\s+([A-Za-z]+)\b[^\n]*?\[ref=((?:f\d+)?e\d+)\]", re.M)
_TEXT = f'"[^"\\\\\\x00-\\x1f\\x7f]{{0,{TEXT_CHARS}}}"'  # no quote, backslash, control


@dataclass(frozen=True)
class LegalActions:
    """The page's refs by what may be done to them."""

    click: tuple[str, ...]
    fill: tuple[str, ...]
    select: tuple[str, ...]
    check: tuple[str, ...]

    @property
    def refs(self) -> int:
        return len(self.click)


def page_tree(obs: str) -> str:
    """The accessibility tree inside an observation's prompt text (between `<<<` and `>>>`,
    as envs.web.observation.WebObservation.to_prompt fences it); the whole text if unfenced."""
    start, end = obs.find("<<<"), obs.rfind(">>>")
    return obs[start + 3:end] if 0 <= start < end else obs


def legal_actions(tree: str) -> LegalActions:
    """The refs of `tree` (an accessibility tree, or an observation's prompt text) by the
    verbs their roles allow; each ref once, in page order."""
    seen: dict[str, str] = {}
    for m in _ELEMENT.finditer(page_tree(tree)):
        if len(seen) == MAX_REFS:
            break
        seen.setdefault(m.group(2), m.group(1).lower())
    def having(roles: frozenset[str]) -> tuple[str, ...]:
        return tuple(r for r, role in seen.items() if role in roles)
    return LegalActions(tuple(seen), having(FILL_ROLES), having(SELECT_ROLES),
                        having(CHECK_ROLES))


def _refs(refs: tuple[str, ...]) -> str:
    return '"(?:' + "|".join(refs) + ')"'


# the LegalActions field that lists the refs each verb may take
_FIELDS = {"click": "click", "fill": "fill", "press": "fill", "select_option": "select",
           "check": "check"}


def without(legal: LegalActions, avoid: Collection[str]) -> LegalActions:
    """`legal` with each avoided action's verb withheld from its ref (canonical actions;
    scroll, noop, stop and unreadable texts are ignored). `press` shares fill's refs, so
    avoiding a fill withholds both, and a press withholds both too."""
    drop: dict[str, set[str]] = {}
    for a in avoid:
        try:
            action = parse_action(a)
        except ActionError:
            continue
        if action.name in _FIELDS:
            drop.setdefault(_FIELDS[action.name], set()).add(str(action.args["ref"]))
    if not drop:
        return legal
    return replace(legal, **{f: tuple(r for r in getattr(legal, f) if r not in refs)
                             for f, refs in drop.items()})


def action_regex(tree: str, avoid: Collection[str] = ()) -> str:
    """The regular expression of the actions legal on the page, less `avoid` (see the
    module docstring)."""
    legal = without(legal_actions(tree), avoid)
    alts = [r"noop\(\)", rf"stop\((?:{_TEXT})?\)", r"scroll\(0, -?[1-9][0-9]{0,3}\)"]
    if legal.click:
        alts.append(rf"click\({_refs(legal.click)}\)")
    if legal.fill:
        keys = "|".join(KEYS)
        alts.append(rf"fill\({_refs(legal.fill)}, {_TEXT}\)")
        alts.append(rf'press\({_refs(legal.fill)}, "(?:{keys})"\)')
    if legal.select:
        alts.append(rf"select_option\({_refs(legal.select)}, {_TEXT}\)")
    if legal.check:
        alts.append(rf"check\({_refs(legal.check)}\)")
    return "(?:" + "|".join(alts) + ")"


def structured_outputs(tree: str, avoid: Collection[str] = ()) -> dict[str, dict[str, str]]:
    """The request fields (vLLM's `structured_outputs`) that constrain a reply to the page."""
    return {"structured_outputs": {"regex": action_regex(tree, avoid)}}
