"""Oracle solvers (`cheat`) for MiniWoB++ tasks, written in the agent's own action language.

Each solver reads the FIRST observation of an episode (goal text and accessibility tree)
and returns the whole plan as action strings, e.g. `['fill("e3", "Jerald")', 'click("e4")']`.
The plan then goes through the same parser, dispatcher, guard and reward reading as any
agent's actions, so reward 1.0 over many seeds shows three things at once: the task is
solvable in this action space, references are stable, and the reward is read right.

Solvers are keyed by task name in `ORACLES`; `OracleUnavailable` means the observation did
not look as the solver expects (a bug, or a page change) and fails the episode loudly.
Not handled: tasks needing feedback after each step (autocomplete lists, email threads).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from worldplan.envs.web.axtree import AxNode, find, parse_tree
from worldplan.envs.web.observation import WebObservation

Plan = list[str]


class OracleUnavailable(RuntimeError):
    """The solver cannot plan from this observation."""


def _quoted(goal: str) -> list[str]:
    return re.findall(r'"([^"]*)"', goal)


def _one(nodes: list[AxNode], role: str | None, name: str | None = None, *,
         text: str | None = None) -> str:
    hits = find(nodes, role, name, text=text)
    if not hits:
        raise OracleUnavailable(f"no {role or 'element'} {name or text or ''!r} in the tree")
    return hits[0].ref


def _submit(nodes: list[AxNode], label: str = "Submit") -> str:
    return f'click("{_one(nodes, "button", label)}")'


def _js(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def click_test(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    return [f'click("{_one(nodes, "button")}")']


def click_button(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    return [f'click("{_one(nodes, "button", _quoted(obs.goal)[0])}")']


def click_button_sequence(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    return [f'click("{_one(nodes, "button", "ONE")}")', f'click("{_one(nodes, "button", "TWO")}")']


def click_dialog(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    return [f'click("{_one(nodes, "button", "Close")}")']


def click_tab(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.search(r"Tab #(\d+)", obs.goal)
    if m is None:
        raise OracleUnavailable(f"no tab number in {obs.goal!r}")
    return [f'click("{_one(nodes, "link", f"Tab #{m.group(1)}")}")']


def click_collapsible(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    header = next((n for n in nodes if n.role == "tab" and n.name.startswith("Section")), None)
    if header is None:
        raise OracleUnavailable("no collapsed section header")
    return [f'click("{header.ref}")', _submit(nodes)]


def _selection(goal: str) -> list[str]:
    m = re.match(r"Select (.*) and click Submit\.?$", goal)
    if m is None:
        raise OracleUnavailable(f"unexpected goal {goal!r}")
    items = m.group(1)
    return [] if items == "nothing" else [s.strip() for s in items.split(",") if s.strip()]


def click_checkboxes(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    plan = [f'check("{_one(nodes, "checkbox", name)}")' for name in _selection(obs.goal)]
    return [*plan, _submit(nodes)]


def click_option(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    return [f'check("{_one(nodes, "radio", _selection(obs.goal)[0])}")', _submit(nodes)]


def click_test_2(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.match(r"Click button (\w+)\.?$", obs.goal)
    if m is None:
        raise OracleUnavailable(f"unexpected goal {obs.goal!r}")
    return [f'click("{_one(nodes, "button", m.group(1))}")']


def _textboxes(nodes: list[AxNode]) -> list[str]:
    return [n.ref for n in find(nodes, "textbox")]


def enter_text(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    return [f'fill("{_textboxes(nodes)[0]}", {_js(_quoted(obs.goal)[0])})', _submit(nodes)]


def enter_text_2(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    word = _quoted(obs.goal)[0]
    word = word.upper() if "upper case" in obs.goal else word.lower()
    return [f'fill("{_textboxes(nodes)[0]}", {_js(word)})', _submit(nodes)]


def enter_password(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    pw = _quoted(obs.goal)[0]
    return [*(f'fill("{r}", {_js(pw)})' for r in _textboxes(nodes)[:2]), _submit(nodes)]


def login_user(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    user, pw = _quoted(obs.goal)[:2]
    boxes = _textboxes(nodes)
    return [f'fill("{boxes[0]}", {_js(user)})', f'fill("{boxes[1]}", {_js(pw)})',
            _submit(nodes, "Login")]


def focus_text(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    return [f'click("{_textboxes(nodes)[0]}")']


def choose_list(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.match(r"Select (.*) from the list and click Submit\.?$", obs.goal)
    if m is None:
        raise OracleUnavailable(f"unexpected goal {obs.goal!r}")
    return [f'select_option("{_one(nodes, "combobox")}", {_js(m.group(1))})', _submit(nodes)]


def use_spinner(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.search(r"Select (-?\d+)", obs.goal)
    if m is None:
        raise OracleUnavailable(f"unexpected goal {obs.goal!r}")
    return [f'fill("{_one(nodes, "spinbutton")}", "{m.group(1)}")', _submit(nodes)]


ORACLES: dict[str, Callable[[WebObservation, list[AxNode]], Plan]] = {
    "click-test": click_test,
    "click-test-2": click_test_2,
    "click-button": click_button,
    "click-button-sequence": click_button_sequence,
    "click-dialog": click_dialog,
    "click-tab": click_tab,
    "click-collapsible": click_collapsible,
    "click-collapsible-nodelay": click_collapsible,
    "click-checkboxes": click_checkboxes,
    "click-option": click_option,
    "enter-text": enter_text,
    "enter-text-2": enter_text_2,
    "enter-password": enter_password,
    "login-user": login_user,
    "focus-text": focus_text,
    "choose-list": choose_list,
    "use-spinner": use_spinner,
}


def cheat(task: str, obs: WebObservation) -> Plan:
    """The oracle's plan for `task` from the episode's first observation."""
    solver = ORACLES.get(task)
    if solver is None:
        raise KeyError(f"no oracle for {task!r}; oracles exist for {sorted(ORACLES)}")
    return solver(obs, parse_tree(obs.axtree))
