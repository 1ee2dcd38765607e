"""Pure parts of the web roles: reading actions out of model text, verdict labels, and the
world model's accuracy against the real page change."""

from __future__ import annotations

import pytest

from worldplan.envs.web.actions import ActionError
from worldplan.worldmodel.web.prompts import extract_action, parse_label
from worldplan.worldmodel.web.world_model import page_change, prediction_accuracy

BEFORE = '- textbox "Name" [ref=e2]\n- button "Submit" [ref=e3]'
AFTER = '- textbox "Name" [active] [ref=e2]: Bob\n- button "Submit" [ref=e3]'


@pytest.mark.parametrize("text, expected", [
    ('click("e4")', "click('e4')"),
    ("Sure! The next action is fill(e2, \"Bob (x)\") then done.", "fill('e2', 'Bob (x)')"),
    ('click("e1", "Me") no; click(e5)', "click('e5')"),  # first ALLOWED call wins
    ("press('e2', 'Enter')", "press('e2', 'Enter')"),
])
def test_extract_action_reads_the_first_allowed_call(text: str, expected: str) -> None:
    assert str(extract_action(text)) == expected


@pytest.mark.parametrize("text", ["let me think", "__import__('os').system('ls')",
                                  "click(", "click(e1 + 'x')", ""])
def test_extract_action_refuses_anything_else(text: str) -> None:
    with pytest.raises(ActionError):
        extract_action(text)


def test_extract_action_only_ever_yields_an_allowed_call() -> None:
    assert str(extract_action("exec(click('e1'))")) == "click('e1')"  # parsed, not run


def test_parse_label() -> None:
    assert parse_label("On track.") == 0.5
    assert parse_label("success") == 1.0
    assert parse_label("Failure: wrong box") == 0.0
    assert parse_label("maybe") is None


def test_prediction_accuracy_against_the_real_change() -> None:
    assert page_change(BEFORE, AFTER) == ['+ textbox "Name": Bob', '- textbox "Name"']
    good = prediction_accuracy("The Name textbox now shows Bob", BEFORE, AFTER)
    bad = prediction_accuracy("A dialog about cookies opens", BEFORE, AFTER)
    none = prediction_accuracy("Nothing changes.", BEFORE, AFTER)
    assert good.f1 > 0.5 > bad.f1 == 0.0
    assert good.change_agrees and bad.change_agrees and not none.change_agrees
    same = prediction_accuracy("nothing changes", BEFORE, BEFORE)
    assert same.change_agrees and not same.changed_real
