"""Web prompts share their head across roles and hold nothing that varies by run; the
action grammar allows exactly the actions legal on the page."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from worldplan.envs.web.actions import parse_action
from worldplan.envs.web.observation import WebObservation
from worldplan.worldmodel.web.action_grammar import action_regex, legal_actions
from worldplan.worldmodel.web.prompts import (
    PlannedAttempt,
    context,
    progress_messages,
    proposer_messages,
    revision_messages,
    role_of_messages,
    world_model_messages,
)

TREE = ('- heading "Form" [ref=e1]\n- textbox "Name" [ref=e2]\n'
        '- checkbox "Agree" [ref=e4]\n  - button "Submit" [ref=e3]\n'
        '- combobox "Color" [ref=e7]:\n  - option "Blue"')


def obs(port: int) -> str:
    return WebObservation("Enter Bob.", f"http://127.0.0.1:{port}/miniwob/form.html",
                          TREE).to_prompt()


def test_every_role_shares_the_system_prompt_and_the_page_head() -> None:
    o, hist = obs(40001), ["click('e1')"]
    prompts = {
        "proposer": proposer_messages(o, hist),
        "revise": revision_messages(o, hist, [PlannedAttempt("click('e3')", "- x", 0.2)]),
        "world_model": world_model_messages(o, "click('e3')", history=hist),
        "verifier": progress_messages("Enter Bob.", o, [("click('e3')", "- x")], history=hist),
        "label": progress_messages("Enter Bob.", o, [], labels=True, history=hist),
    }
    head = context(o, hist)
    systems = {m[0]["content"] for m in prompts.values()}
    assert len(systems) == 1
    for m in prompts.values():
        assert m[-1]["content"].startswith(head)  # the page first, the role's task last
    assert {k: role_of_messages(m) for k, m in prompts.items()} == {
        "proposer": "proposer", "revise": "proposer", "world_model": "world_model",
        "verifier": "verifier", "label": "verifier"}


def test_no_prompt_varies_with_the_page_servers_port() -> None:
    a, b = obs(40001), obs(51234)
    assert a == b and "40001" not in a and "/miniwob/form.html" in a
    remote = WebObservation("g", "https://example.com:8443/x", TREE).to_prompt()
    assert "https://example.com:8443/x" in remote  # a real site keeps its origin


def test_legal_actions_by_role() -> None:
    legal = legal_actions(obs(1))
    assert legal.click == ("e1", "e2", "e4", "e3", "e7")
    assert legal.fill == ("e2", "e7") and legal.select == ("e7",) and legal.check == ("e4",)


def test_the_grammar_admits_legal_actions_and_nothing_else() -> None:
    rx = re.compile(action_regex(obs(1)))
    for ok in ['click("e3")', 'fill("e2", "Bob")', 'press("e2", "Enter")', 'check("e4")',
               'select_option("e7", "Blue")', "scroll(0, 300)", "noop()", 'stop("42")',
               "stop()"]:
        assert rx.fullmatch(ok), ok
    for bad in ['click("e9")', 'check("e2")', 'fill("e1", "x")', 'press("e2", "F5")',
                'fill("e2", "a"b")', "click(e3)", 'click("e3") click("e4")']:
        assert not rx.fullmatch(bad), bad


_roles = st.sampled_from(["button", "textbox", "checkbox", "link", "combobox", "radio",
                          "generic", "listbox", "option"])


@given(st.lists(st.tuples(_roles, st.integers(1, 60)), min_size=0, max_size=12),
       st.data())
def test_whatever_the_grammar_admits_parses_and_targets_the_page(
        elements: list[tuple[str, int]], data: st.DataObject) -> None:
    tree = "\n".join(f'- {role} "x" [ref=e{i}]' for role, i in elements)
    refs = {f"e{i}" for _, i in elements}
    rx = action_regex(tree)
    action = data.draw(st.from_regex(rx, fullmatch=True))
    parsed = parse_action(action)  # never raises: every admitted text is an action
    if "ref" in parsed.args:
        assert parsed.args["ref"] in refs
