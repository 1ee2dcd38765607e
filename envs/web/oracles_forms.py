"""One-shot oracles that read the page: tables, texts, sums, labelled fields, dates.

Each plans the whole episode from its first observation (see `oracle_kit`).
Not handled: tasks that need the page's feedback (`oracles_reactive`), pointer gestures
(`oracles_pointer`).
"""

from __future__ import annotations

import re

from worldplan.envs.web.axtree import AxNode, find
from worldplan.envs.web.observation import WebObservation
from worldplan.envs.web.oracle_kit import (
    Oracle,
    OracleUnavailable,
    Plan,
    js,
    nth,
    once,
    one,
    quoted,
    refs_of,
    submit,
)

# ui_utils.COLORS as CSS names -> hex (use-colorwheel compares the picked hex with these)
COLOR_HEX = {"black": "000000", "white": "FFFFFF", "aqua": "00FFFF", "blue": "0000FF",
             "gray": "808080", "green": "008000", "lime": "00FF00", "maroon": "800000",
             "navy": "000080", "olive": "808000", "purple": "800080", "red": "FF0000",
             "silver": "C0C0C0", "teal": "008080", "yellow": "FFFF00", "pink": "FFC0CB",
             "magenta": "FF00FF", "gold": "FFD700", "orange": "FFA500"}


def _fill(ref: str, text: str) -> str:
    return f'fill("{ref}", {js(text)})'


def _cells(nodes: list[AxNode]) -> dict[str, str]:
    """A two-column table read as {label: value}."""
    cells = [n.name or n.text for n in find(nodes, "cell")]
    return {cells[i]: cells[i + 1] for i in range(0, len(cells) - 1, 2)}


def read_table(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.search(r"value of (.+?) into", obs.goal)
    if m is None:
        raise OracleUnavailable(f"unexpected goal {obs.goal!r}")
    return [_fill(refs_of(nodes, "textbox")[0], _cells(nodes)[m.group(1)]), submit(nodes)]


def read_table_2(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    table, plan, label = _cells(nodes), [], ""
    for n in nodes:
        if n.role == "generic" and n.label.endswith(":"):
            label = n.label[:-1]
        elif n.role == "textbox" and n.ref and label:
            plan.append(_fill(n.ref, table[label]))
            label = ""
    return [*plan, submit(nodes)]


def _words(text: str) -> list[str]:
    return [re.sub(r"[^a-zA-Z0-9]", "", w) for w in text.split()]


def find_word(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    para = find(nodes, "paragraph")[0].label
    return [_fill(refs_of(nodes, "textbox")[0], _words(para)[nth(obs.goal)]), submit(nodes)]


def scroll_text(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    area, field = find(nodes, "textbox")[:2]
    return [_fill(field.ref, _words(area.label)[-1]), submit(nodes)]


def _expression(nodes: list[AxNode]) -> str:
    for n in nodes:
        if re.fullmatch(r"[-\d\sx+*/=]+", n.label or "-") and "=" in n.label:
            return n.label
    raise OracleUnavailable("no equation on the page")


def simple_arithmetic(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.fullmatch(r"\s*(-?\d+)\s*([-+*/x])\s*(-?\d+)\s*=\s*", _expression(nodes))
    if m is None:
        raise OracleUnavailable("unexpected arithmetic")
    a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
    value = {"+": a + b, "-": a - b, "*": a * b, "x": a * b}.get(op, a // b if b else 0)
    return [_fill(refs_of(nodes, "textbox")[0], str(value)), submit(nodes)]


def simple_algebra(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    left, right = _expression(nodes).split("=")
    m = re.fullmatch(r"\s*(-?\d+)\s*([-+])\s*x\s*|\s*x\s*([-+])\s*(-?\d+)\s*", left)
    if m is None:
        raise OracleUnavailable(f"unexpected equation {left}={right}")
    total = int(right)
    if m.group(1) is not None:  # a + x = t  or  a - x = t
        x = total - int(m.group(1)) if m.group(2) == "+" else int(m.group(1)) - total
    else:  # x + a = t  or  x - a = t
        x = total - int(m.group(4)) if m.group(3) == "+" else total + int(m.group(4))
    return [_fill(refs_of(nodes, "textbox")[0], str(x)), submit(nodes)]


def text_transform(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    letters = [n.label for n in nodes if n.role == "generic" and n.ref
               and len(n.label) == 1]
    return [_fill(refs_of(nodes, "textbox")[0], "".join(letters)), submit(nodes)]


_MOVIE = re.compile(r"Search for (?P<genre>\w+) movies directed by (?P<director>\w+) "
                    r"from year (?P<year>\d+)")


_FIELD_WORDS = {"year": ("year", "date", "released"), "director": ("director",),
                "genre": ("genre",)}


def _field(label: str) -> str:
    low = label.lower()
    return next((k for k, words in _FIELD_WORDS.items() if any(w in low for w in words)), "")


def multi_layouts(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = _MOVIE.search(obs.goal)
    if m is None:
        raise OracleUnavailable(f"unexpected goal {obs.goal!r}")
    plan, label, waiting = [], "", ""  # a label seen before its box, a box before its label
    for n in nodes:
        if n.role == "textbox" and n.ref:
            key = _field(n.name) or label
            if key:
                plan.append(_fill(n.ref, m.group(key)))
            else:
                waiting = n.ref
            label = ""
        elif _field(n.name or n.text):
            if waiting:
                plan.append(_fill(waiting, m.group(_field(n.name or n.text))))
                waiting = ""
            else:
                label = _field(n.name or n.text)
    if waiting:
        raise OracleUnavailable(f"no label for textbox {waiting}")
    go = [n for n in nodes if n.ref and n.role in ("button", "generic", "link")
          and (n.name or n.text).strip() in ("Submit", "Go!", "Search", "Go")]
    if not go:
        raise OracleUnavailable("no submit button")
    return [*plan, f'click("{go[-1].ref}")']


def form_sequence_2(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.search(r"Check the (\w+) radio button and enter the number \"(-?\d+)\" into the "
                  r"(\w+) textbox", obs.goal)
    if m is None:
        raise OracleUnavailable(f"unexpected goal {obs.goal!r}")
    radio = refs_of(nodes, "radio")[nth(m.group(1))]
    box = refs_of(nodes, "textbox")[nth(m.group(3))]
    return [f'check("{radio}")', _fill(box, m.group(2)), submit(nodes)]


def form_sequence_3(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.search(r"Choose (.+?) from the dropdown, then click the button labeled", obs.goal)
    if m is None:
        raise OracleUnavailable(f"unexpected goal {obs.goal!r}")
    return [f'select_option("{one(nodes, "combobox")}", {js(m.group(1))})',
            f'click("{one(nodes, "button", quoted(obs.goal)[-1])}")']


def _mdy(goal: str) -> tuple[str, str, str]:
    m = re.search(r"(\d\d)/(\d\d)/(\d{4})", goal)
    if m is None:
        raise OracleUnavailable(f"no date in {goal!r}")
    return m.group(1), m.group(2), m.group(3)


def enter_date(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    mm, dd, yyyy = _mdy(obs.goal)
    return [_fill(refs_of(nodes, "textbox")[0], f"{yyyy}-{mm}-{dd}"), submit(nodes)]


def enter_time(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.search(r"(\d+):(\d\d) ?([AP]M)", obs.goal)
    if m is None:
        raise OracleUnavailable(f"no time in {obs.goal!r}")
    hour = int(m.group(1)) % 12 + (12 if m.group(3) == "PM" else 0)
    return [_fill(refs_of(nodes, "textbox")[0], f"{hour:02d}:{m.group(2)}"), submit(nodes)]


def use_colorwheel(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.search(r"Select (\w+) with", obs.goal)
    if m is None or m.group(1) not in COLOR_HEX:
        raise OracleUnavailable(f"unexpected goal {obs.goal!r}")
    return [_fill(refs_of(nodes, "textbox")[0], COLOR_HEX[m.group(1)]), submit(nodes)]


FORMS: dict[str, Oracle] = {name: once(fn) for name, fn in {
    "read-table": read_table,
    "read-table-2": read_table_2,
    "find-word": find_word,
    "scroll-text": scroll_text,
    "simple-arithmetic": simple_arithmetic,
    "simple-algebra": simple_algebra,
    "text-transform": text_transform,
    "multi-layouts": multi_layouts,
    "multi-orderings": multi_layouts,
    "form-sequence-2": form_sequence_2,
    "form-sequence-3": form_sequence_3,
    "enter-date": enter_date,
    "enter-time": enter_time,
    "use-colorwheel": use_colorwheel,
}.items()}
