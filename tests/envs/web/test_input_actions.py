"""The raw input actions (coordinates, drags, the keyboard, time) and the stop answer: parsed
against the allowlist like the rest, never evaluated (no browser)."""

from __future__ import annotations

import pytest

from worldplan.envs.web.actions import (
    ACTIONS,
    ALLOWED,
    INPUT_ACTIONS,
    Action,
    ActionError,
    parse_action,
    stop_answer,
)


@pytest.mark.parametrize("text, expected", [
    ("click_at(80, 120.5)", Action("click_at", {"x": 80, "y": 120.5})),
    ("click_at(y=3, x=4)", Action("click_at", {"x": 4, "y": 3})),
    ('click_text("Eget")', Action("click_text", {"text": "Eget"})),
    ("dblclick(e4)", Action("dblclick", {"ref": "e4"})),
    ("dblclick_at(1, 2)", Action("dblclick_at", {"x": 1, "y": 2})),
    ("drag(e3, 'e9')", Action("drag", {"ref": "e3", "to": "e9"})),
    ("drag_at(10, 10, 90, 60)", Action("drag_at", {"x": 10, "y": 10, "to_x": 90, "to_y": 60})),
    ('type("say \\"hi\\"")', Action("type", {"text": 'say "hi"'})),
    ('key("Control+a")', Action("key", {"keys": "Control+a"})),
    ('key("Enter")', Action("key", {"keys": "Enter"})),
    ("wait(500)", Action("wait", {"ms": 500})),
])
def test_input_actions_parse(text: str, expected: Action) -> None:
    assert parse_action(text) == expected
    assert parse_action(str(expected)) == expected  # str() round-trips


@pytest.mark.parametrize("text, message", [
    ("click_at(-1, 5)", "must be in"),
    ("click_at(5, 20000)", "must be in"),
    ("click_at('a', 5)", "number of pixels"),
    ("wait(60000)", "must be in"),
    ("wait(-5)", "must be in"),
    ("key('Hyper+a')", "unknown modifier"),
    ("key('PrintScreen')", "not allowed"),
    ("type(__import__('os'))", "expected one call|must be a literal"),
    ("drag(e1)", "needs to"),
    ("drag('e1', 'button')", "not an element reference"),
    ("type(text)", "must be a literal"),
])
def test_input_actions_are_checked(text: str, message: str) -> None:
    with pytest.raises(ActionError, match=message):
        parse_action(text)


def test_the_language_is_both_tables() -> None:
    assert set(ALLOWED) == set(ACTIONS) | set(INPUT_ACTIONS)
    assert not set(ACTIONS) & set(INPUT_ACTIONS)


@pytest.mark.parametrize("text, answer", [
    ('stop("42")', "42"),
    ("stop()", ""),
    ('stop("say \\"hi\\"")', 'say "hi"'),
    ("stop('it\\'s (x)')", "it's (x)"),
    ('stop(answer="a, b")', "a, b"),
    ('stop(\'"quoted"\')', '"quoted"'),
    ('click("e1")', None),
    ("stop(", None),
])
def test_stop_answer_is_parsed_not_split(text: str, answer: str | None) -> None:
    assert stop_answer(text) == answer
