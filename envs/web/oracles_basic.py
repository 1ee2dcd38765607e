"""One-shot oracles for MiniWoB++'s clicking, choosing and typing tasks: each plans the whole
episode from its first observation (see `oracle_kit`).

Not handled: tasks that need the page's feedback (`oracles_reactive`), pointer gestures
(`oracles_pointer`), reading forms and texts (`oracles_forms`).
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
    submit,
)


def click_test(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    return [f'click("{one(nodes, "button")}")']


def click_button(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    return [f'click("{one(nodes, "button", quoted(obs.goal)[0])}")']


def click_button_sequence(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    return [f'click("{one(nodes, "button", "ONE")}")', f'click("{one(nodes, "button", "TWO")}")']


def click_dialog(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    return [f'click("{one(nodes, "button", "Close")}")']


def click_tab(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.search(r"Tab #(\d+)", obs.goal)
    if m is None:
        raise OracleUnavailable(f"no tab number in {obs.goal!r}")
    return [f'click("{one(nodes, "link", f"Tab #{m.group(1)}")}")']


def click_collapsible(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    header = next((n for n in nodes if n.role == "tab" and n.name.startswith("Section")), None)
    if header is None:
        raise OracleUnavailable("no collapsed section header")
    return [f'click("{header.ref}")', submit(nodes)]


def _selection(goal: str) -> list[str]:
    m = re.match(r"Select (.*) and click Submit\.?$", goal)
    if m is None:
        raise OracleUnavailable(f"unexpected goal {goal!r}")
    items = m.group(1)
    return [] if items == "nothing" else [s.strip() for s in items.split(",") if s.strip()]


def click_checkboxes(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    plan = [f'check("{one(nodes, "checkbox", name)}")' for name in _selection(obs.goal)]
    return [*plan, submit(nodes)]


def click_option(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    return [f'check("{one(nodes, "radio", _selection(obs.goal)[0])}")', submit(nodes)]


def click_test_2(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.match(r"Click button (\w+)\.?$", obs.goal)
    if m is None:
        raise OracleUnavailable(f"unexpected goal {obs.goal!r}")
    return [f'click("{one(nodes, "button", m.group(1))}")']


def _textboxes(nodes: list[AxNode]) -> list[str]:
    return [n.ref for n in find(nodes, "textbox")]


def enter_text(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    return [f'fill("{_textboxes(nodes)[0]}", {js(quoted(obs.goal)[0])})', submit(nodes)]


def enter_text_2(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    word = quoted(obs.goal)[0]
    word = word.upper() if "upper case" in obs.goal else word.lower()
    return [f'fill("{_textboxes(nodes)[0]}", {js(word)})', submit(nodes)]


def enter_password(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    pw = quoted(obs.goal)[0]
    return [*(f'fill("{r}", {js(pw)})' for r in _textboxes(nodes)[:2]), submit(nodes)]


def login_user(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    user, pw = quoted(obs.goal)[:2]
    boxes = _textboxes(nodes)
    return [f'fill("{boxes[0]}", {js(user)})', f'fill("{boxes[1]}", {js(pw)})',
            submit(nodes, "Login")]


def focus_text(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    return [f'click("{_textboxes(nodes)[0]}")']


def choose_list(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.match(r"Select (.*) from the list and click Submit\.?$", obs.goal)
    if m is None:
        raise OracleUnavailable(f"unexpected goal {obs.goal!r}")
    return [f'select_option("{one(nodes, "combobox")}", {js(m.group(1))})', submit(nodes)]


def use_spinner(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.search(r"Select (-?\d+)", obs.goal)
    if m is None:
        raise OracleUnavailable(f"unexpected goal {obs.goal!r}")
    return [f'fill("{one(nodes, "spinbutton")}", "{m.group(1)}")', submit(nodes)]


def click_link(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    return [f"click_text({js(quoted(obs.goal)[0])})"]


def click_dialog_2(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    label = quoted(obs.goal)[0]
    return [f'click("{one(nodes, "button", "Close" if label == "x" else label)}")']


def focus_text_2(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    return [f'click("{_textboxes(nodes)[nth(obs.goal)]}")']


def _numbered(nodes: list[AxNode]) -> list[tuple[float, AxNode]]:
    out = []
    for n in nodes:
        if n.ref and n.role == "generic" and re.fullmatch(r"-?\d+", n.label.strip()):
            out.append((float(n.label), n))
    return out


def ascending_numbers(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    return [f'click("{n.ref}")' for _, n in sorted(_numbered(nodes), key=lambda v: v[0])]


def find_greatest(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    cards = _numbered(nodes)
    if not cards:
        raise OracleUnavailable("no numbered cards")
    return [f'click("{max(cards, key=lambda v: v[0])[1].ref}")', submit(nodes)]


def odd_or_even(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    plan, pending = [], ""
    for n in nodes:  # each row: Odd button, the number, Even button
        if n.role == "button" and n.name == "Odd":
            pending = n.ref
        elif n.role == "generic" and re.fullmatch(r"-?\d+", n.label.strip()) and pending:
            odd = int(n.label) % 2 != 0
            even = next(m for m in nodes[nodes.index(n):] if m.role == "button"
                        and m.name == "Even")
            plan.append(f'click("{pending if odd else even.ref}")')
            pending = ""
    return [*plan, submit(nodes)]


def buy_ticket(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    buttons = [n for n in find(nodes, "button") if n.name.startswith("Book for $")]
    durations: list[float] = []
    for n in nodes:
        m = re.fullmatch(r"(\d+)h (\d+)m", n.label.strip())
        if m:
            durations.append(int(m.group(1)) * 60 + int(m.group(2)))
    prices = [float(b.name.split("$")[1]) for b in buttons]
    goal = obs.goal.lower()
    keys = durations if ("shortest" in goal or "longest" in goal) else prices
    if len(keys) != len(buttons):
        raise OracleUnavailable(f"cannot pair tickets with {goal!r}")
    best = (max if ("longest" in goal or "expensive" in goal) else min)(
        range(len(buttons)), key=lambda i: keys[i])
    return [f'click("{buttons[best].ref}")']


BASIC: dict[str, Oracle] = {name: once(fn) for name, fn in {
    "click-test": click_test,
    "click-test-2": click_test_2,
    "click-test-transfer": click_test_2,
    "click-button": click_button,
    "click-button-sequence": click_button_sequence,
    "click-dialog": click_dialog,
    "click-dialog-2": click_dialog_2,
    "click-link": click_link,
    "click-tab": click_tab,
    "click-collapsible": click_collapsible,
    "click-collapsible-nodelay": click_collapsible,
    "click-checkboxes": click_checkboxes,
    "click-checkboxes-large": click_checkboxes,
    "click-checkboxes-transfer": click_checkboxes,
    "click-option": click_option,
    "enter-text": enter_text,
    "enter-text-2": enter_text_2,
    "enter-text-dynamic": enter_text,
    "enter-password": enter_password,
    "login-user": login_user,
    "focus-text": focus_text,
    "focus-text-2": focus_text_2,
    "choose-list": choose_list,
    "use-spinner": use_spinner,
    "unicode-test": click_button,
    "find-greatest": find_greatest,
    "odd-or-even": odd_or_even,
    "buy-ticket": buy_ticket,
}.items()}
