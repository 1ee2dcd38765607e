"""Reactive oracles that act on the page's feedback: a number to guess from "higher" or
"lower", numbers to generate until one fits, a price to watch, a terminal's listing, a list
to sort one drag at a time, a pop-up to cancel.

Each is asked again with the page as it is now whenever its last plan is used up (see
`oracle_kit`), keeps what it must remember in `memo`, and ends the episode by answering [].
Not handled: navigation (`oracles_reactive`), email threads (`oracles_email`).
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
    one,
    quoted,
    submit,
)
from worldplan.envs.web.oracles_reactive import done


def guess_number(obs: WebObservation, nodes: list[AxNode], memo: Memo) -> Plan:
    lo, hi = memo.get("range", (0, 9))
    said = " ".join(n.label for n in nodes if n.role == "generic" and "number is" in n.label)
    if "higher than" in said:
        lo = memo["guess"] + 1
    elif "lower than" in said:
        hi = memo["guess"] - 1
    if lo > hi:
        return []
    guess = (lo + hi) // 2
    memo["range"], memo["guess"] = (lo, hi), guess
    return [f'fill("{one(nodes, "spinbutton")}", "{guess}")', submit(nodes)]


def _wanted(goal: str, value: int) -> bool | None:
    """Whether generate-number's goal accepts `value` (None: a goal not understood)."""
    m = re.search(r"number (less|greater|bigger|larger|higher|lower|smaller) than (\d+)",
                  goal)
    if m is not None:
        return (value < int(m.group(2))) == (m.group(1) in ("less", "lower", "smaller"))
    if "even number" in goal:
        return value % 2 == 0
    if "odd number" in goal:
        return value % 2 == 1
    m = re.search(r"the number (\d+)", goal)
    return value == int(m.group(1)) if m else None


def generate_number(obs: WebObservation, nodes: list[AxNode], memo: Memo) -> Plan:
    if done(memo) or _wanted(obs.goal, 0) is None:
        return []
    memo["final"] = False
    shown = [n.label for n in nodes if n.role == "generic" and re.fullmatch(r"\d+", n.label)]
    if shown and memo.get("generated") and _wanted(obs.goal, int(shown[0])):
        memo["final"] = True
        return [submit(nodes)]
    memo["generated"] = True
    return [f'click("{one(nodes, "button", "Generate")}")']


def terminal(obs: WebObservation, nodes: list[AxNode], memo: Memo) -> Plan:
    if done(memo):
        return []
    memo["final"] = False
    if not memo.get("listed"):
        memo["listed"] = True
        return ['type("ls")', 'key("Enter")']
    at = max(i for i, n in enumerate(nodes) if n.label.strip() == "user$ ls")
    files = nodes[at + 1].label.split()
    m = re.search(r"extension (\.[\w.]*\w)", obs.goal)
    pick = [f for f in files if (f.endswith(m.group(1)) if m else "." not in f)]
    if not pick:
        raise OracleUnavailable(f"no file to delete among {files}")
    memo["final"] = True
    return [f"type({js('rm ' + pick[0])})", 'key("Enter")']


def stock_market(obs: WebObservation, nodes: list[AxNode], memo: Memo) -> Plan:
    """Watch the price; buy when it is below the goal's."""
    m = re.search(r"less than \$(\d+(?:\.\d+)?)", obs.goal)
    price = next((n.label for n in nodes if n.label.startswith("Stock price: $")), "")
    if m is None or not price or memo.get("bought"):
        return []
    if float(price.split("$")[1]) < float(m.group(1)):
        memo["bought"] = True
        return [f'click("{one(nodes, "button", "Buy")}")']
    return ["wait(100)"]


def drag_sort_numbers(obs: WebObservation, nodes: list[AxNode], memo: Memo) -> Plan:
    """Selection sort by drags: the smallest misplaced number goes to its place."""
    items = find(nodes, "listitem")
    values = [float(next(c.label for c in nodes[nodes.index(i) + 1:] if c.label))
              for i in items]
    for k in range(len(values)):
        j = min(range(k, len(values)), key=lambda i: values[i])
        if values[j] != values[k]:
            (sx, sy), (x, y, w, h) = center(items[j]), box(items[k])
            return [f"drag_at({sx}, {sy}, {round(x + w / 2)}, {round(y + h * 0.25)})"]
    if memo.get("submitted"):
        return []
    memo["submitted"] = True
    return [submit(nodes)]


def login_user_popup(obs: WebObservation, nodes: list[AxNode], memo: Memo) -> Plan:
    """Fill the two fields and press OK; a 'session is timing out' pop-up is cancelled."""
    if memo.get("sent"):
        return []
    popup = [n for n in find(nodes, "button", "Cancel")]
    if popup:
        return [f'click("{popup[0].ref}")']
    user, pw = quoted(obs.goal)[:2]
    boxes = find(nodes, "textbox")
    for b, text in zip(boxes, (user, pw), strict=False):
        if b.label != text:
            return [f'fill("{b.ref}", {js(text)})']
    memo["sent"] = True
    return [submit(nodes, "OK")]



FEEDBACK: dict[str, Oracle] = {
    "guess-number": Oracle(guess_number, reactive=True),
    "generate-number": Oracle(generate_number, reactive=True),
    "terminal": Oracle(terminal, reactive=True),
    "login-user-popup": Oracle(login_user_popup, reactive=True),
    "stock-market": Oracle(stock_market, reactive=True),
    "drag-sort-numbers": Oracle(drag_sort_numbers, reactive=True, boxes=True),
}
