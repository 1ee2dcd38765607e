"""Reactive oracles that navigate: tasks whose page answers each action by showing more
(sections, tabs, menus, a pie menu, contact pages, search results, autocomplete lists,
date pickers).

Each is asked again with the page as it is now whenever its last plan is used up (see
`oracle_kit`), keeps what it must remember in `memo`, and ends the episode by answering [].
Not handled: email threads (`oracles_email`), games and feedback (`oracles_feedback`).
"""

from __future__ import annotations

import re

from worldplan.envs.web.axtree import AxNode, find
from worldplan.envs.web.observation import WebObservation
from worldplan.envs.web.oracle_kit import (
    Memo,
    Oracle,
    OracleUnavailable,
    Plan,
    box,
    center,
    js,
    nth,
    one,
    quoted,
    refs_of,
    submit,
)

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def done(memo: Memo) -> bool:
    """True the second time it is asked: a plan's last action was the final one."""
    seen = bool(memo.get("final"))
    memo["final"] = True
    return seen


def _mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text) is not None


def find_in_sections(obs: WebObservation, nodes: list[AxNode], memo: Memo) -> Plan:
    """click-collapsible-2, click-tab-2*: open sections or tabs one by one until the
    quoted word is on show, then click it."""
    missed = obs.last_action_error.startswith("no visible element with the text")
    if missed:  # the word was plain text here, not the link: look further
        memo["final"] = False
    if done(memo):
        return []
    word = quoted(obs.goal)[-1]
    if not missed and any(n.role in ("tabpanel", "paragraph") and _mentions(n.text, word)
                          for n in nodes):
        return [f"click_text({js(word)})"]  # (a plain word of the text: open the next)
    memo["final"] = False
    heads = [n for n in nodes if n.ref and (n.role == "tab" and n.name.startswith("Section")
                                            or n.role == "link" and n.states.get("cursor"))]
    opened = memo.setdefault("opened", [])
    for h in heads:
        if h.name not in opened:
            opened.append(h.name)
            return [f'click("{h.ref}")']
    raise OracleUnavailable(f"{word!r} is in no section")


def click_menu(obs: WebObservation, nodes: list[AxNode], memo: Memo) -> Plan:
    """`Select A>B>C`: hover along the path, click its last item."""
    if done(memo):
        return []
    path = obs.goal.split("Select ", 1)[-1].strip().split(">")
    items = {n.name: n.ref for n in find(nodes, "menuitem")}
    if path[-1] in items:
        return [f'click("{items[path[-1]]}")']
    memo["final"] = False
    deepest = [p for p in path if p in items]
    if not deepest:
        raise OracleUnavailable(f"no item of {path} on show")
    return [f'hover("{items[deepest[-1]]}")']


def click_menu_2(obs: WebObservation, nodes: list[AxNode], memo: Memo) -> Plan:
    """Open the menu, then hover its items one by one until the labelled one shows."""
    if done(memo) or "labeled" not in obs.goal:
        return []
    memo["final"] = False
    label = quoted(obs.goal)[-1]
    items = find(nodes, "menuitem")
    if not items:
        return [f'click("{one(nodes, "button", quoted(obs.goal)[0])}")']
    hit = [n for n in items if n.name == label]
    if hit:
        memo["final"] = True
        return [f'click("{hit[0].ref}")']
    tried = memo.setdefault("hovered", [])
    for n in items:
        if n.name not in tried:
            tried.append(n.name)
            return [f'hover("{n.ref}")']
    raise OracleUnavailable(f"no menu item {label!r}")


def click_pie(obs: WebObservation, nodes: list[AxNode], memo: Memo) -> Plan:
    """Open the pie, wait until the item stops moving, click it (at its centre: the wheel
    is drawn with SVG, which the actionability checks of `click` do not settle on)."""
    if done(memo):
        return []
    if not memo.get("open"):
        memo["open"], memo["final"] = True, False
        return [f'click("{next(n.ref for n in nodes if n.ref and n.label == "+")}")']
    item = next(n for n in nodes if n.ref and n.label == quoted(obs.goal)[-1])
    if box(item)[2] <= 2 or box(item) != memo.get("last"):  # still opening: let it move
        memo["final"], memo["last"] = False, box(item)
        return ["wait(200)"]
    return [f"click_at{center(item)}"]


def phone_book(obs: WebObservation, nodes: list[AxNode], memo: Memo) -> Plan:
    m = re.search(r"Find (\S+) in the contact book and click on their (\w+)", obs.goal)
    if m is None or done(memo):
        return []
    name, field = m.group(1), m.group(2).lower()
    if find(nodes, "heading", name):
        at = next(i for i, n in enumerate(nodes) if n.role == "heading" and n.name == name)
        for i, n in enumerate(nodes[at + 1:], at + 1):
            if n.role == "heading":
                break
            if n.ref and field in (n.name or n.text).lower() and n.role == "link":
                return [f'click("{n.ref}")']
            if field in (n.name or n.text).lower():
                value = next((c for c in nodes[i + 1:] if c.ref), None)
                if value is not None:
                    return [f'click("{value.ref}")']
        raise OracleUnavailable(f"no {field} for {name}")
    memo["final"] = False
    return [f'click("{one(nodes, "link", ">")}")']


def search_engine(obs: WebObservation, nodes: list[AxNode], memo: Memo) -> Plan:
    if done(memo):
        return []
    memo["final"] = False
    if not memo.get("searched"):
        memo["searched"] = True
        return [f'fill("{refs_of(nodes, "textbox")[0]}", {js(quoted(obs.goal)[0])})',
                f'click("{one(nodes, "button", "Search")}")']
    k = nth(obs.goal)
    page, index = k // 3 + 1, k % 3
    if memo.get("page", 1) != page:
        memo["page"] = page
        return [f'click("{one(nodes, "link", str(page))}")']
    results = [n for n in find(nodes, "link") if n.states.get("cursor")
               and not re.fullmatch(r"\d+|[<>]|Prev|Next", n.name)]
    memo["final"] = True
    return [f'click("{results[index].ref}")']


def use_autocomplete(obs: WebObservation, nodes: list[AxNode], memo: Memo) -> Plan:
    if done(memo):
        return []
    memo["final"] = False
    start, *end = quoted(obs.goal)
    box = one(nodes, "textbox")
    if not memo.get("typed"):
        memo["typed"] = True
        return [f'click("{box}")', f"type({js(start)})"]
    for n in find(nodes, "listitem"):
        word = next((c.label for c in nodes[nodes.index(n) + 1:] if c.label), "")
        if word.startswith(start) and (not end or word.endswith(end[0])):
            memo["final"] = True
            return [f'click("{n.ref}")', submit(nodes)]
    raise OracleUnavailable(f"no item for {start!r}..{end!r}")


def choose_date(obs: WebObservation, nodes: list[AxNode], memo: Memo) -> Plan:
    """Open the date picker, step back month by month, click the day."""
    m = re.search(r"(\d\d)/(\d\d)/(\d{4})", obs.goal)
    if m is None or done(memo):
        return []
    memo["final"] = False
    month, day = MONTHS[int(m.group(1)) - 1], str(int(m.group(2)))
    shown = next((n.label for n in nodes if re.fullmatch(r"[A-Z][a-z]+ \d{4}", n.label)), "")
    if not shown:
        return [f'click("{refs_of(nodes, "textbox")[0]}")']
    if shown.split()[0] != month:
        prev = [n for n in nodes if n.ref and n.name == "Prev"]
        if not prev:
            raise OracleUnavailable(f"cannot go back from {shown} to {month}")
        return [f'click("{prev[0].ref}")']
    memo["final"] = True
    return [f'click("{one(nodes, "link", day)}")', submit(nodes)]


BOXES = {click_pie}  # these read element boxes
REACTIVE: dict[str, Oracle] = {name: Oracle(fn, reactive=True, boxes=fn in BOXES)
                               for name, fn in {
    "click-collapsible-2": find_in_sections,
    "click-collapsible-2-nodelay": find_in_sections,
    "click-tab-2": find_in_sections,
    "click-tab-2-easy": find_in_sections,
    "click-tab-2-medium": find_in_sections,
    "click-tab-2-hard": find_in_sections,
    "click-menu": click_menu,
    "click-menu-2": click_menu_2,
    "click-pie": click_pie,
    "click-pie-nodelay": click_pie,
    "phone-book": phone_book,
    "search-engine": search_engine,
    "use-autocomplete": use_autocomplete,
    "use-autocomplete-nodelay": use_autocomplete,
    "choose-date": choose_date,
    "choose-date-easy": choose_date,
    "choose-date-medium": choose_date,
    "choose-date-nodelay": choose_date,
}.items()}
