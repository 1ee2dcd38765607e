"""The action parser: literal calls from the allowlist only, never evaluated."""

from __future__ import annotations

import pytest

from worldplan.envs.web.actions import (
    ACTIONS,
    Action,
    ActionError,
    canonical_action,
    parse_action,
)


@pytest.mark.parametrize("text, expected", [
    ('click("e12")', Action("click", {"ref": "e12"})),
    ("click(e12)", Action("click", {"ref": "e12"})),
    ("  click( 'f1e3' )\n", Action("click", {"ref": "f1e3"})),
    ('fill("e5", "Jerald")', Action("fill", {"ref": "e5", "text": "Jerald"})),
    ('fill(ref="e5", text="a \\"b\\"")', Action("fill", {"ref": "e5", "text": 'a "b"'})),
    ("fill(e5, 42)", Action("fill", {"ref": "e5", "text": "42"})),
    ('select_option(e7, "Blue")', Action("select_option", {"ref": "e7", "label": "Blue"})),
    ('press(e5, "Enter")', Action("press", {"ref": "e5", "key": "Enter"})),
    ('press(e5, "Shift+Tab")', Action("press", {"ref": "e5", "key": "Shift+Tab"})),
    ('press(e5, "a")', Action("press", {"ref": "e5", "key": "a"})),
    ("hover(e9)", Action("hover", {"ref": "e9"})),
    ("check(e8)", Action("check", {"ref": "e8"})),
    ("scroll(0, -200)", Action("scroll", {"dx": 0, "dy": -200})),
    ("scroll(dy=1.5, dx=+3)", Action("scroll", {"dx": 3, "dy": 1.5})),
    ("noop()", Action("noop", {})),
    ("stop()", Action("stop", {"answer": ""})),
    ('stop("42")', Action("stop", {"answer": "42"})),
])
def test_parses(text: str, expected: Action) -> None:
    assert parse_action(text) == expected


@pytest.mark.parametrize("text, message", [
    ("", "empty action"),
    ("click(", "cannot parse"),
    ("click e12", "cannot parse"),
    ("e12", "expected one call"),
    ("click(e1); click(e2)", "cannot parse"),
    ("[click(e1), click(e2)]", "expected one call"),
    ("goto('http://example.com')", "unknown action 'goto'"),
    ("__import__('os').system('touch /tmp/pwned')", "expected one call"),
    ("page.click('e1')", "expected one call"),
    ("exec('print(1)')", "unknown action 'exec'"),
    ("click(print('x'))", "must be a literal"),
    ("fill(e1, 'a' + 'b')", "must be a literal"),
    ("fill(e1, text)", "must be a literal"),
    ("click('button#submit')", "not an element reference"),
    ("click('e1] >> css=body')", "not an element reference"),
    ("click(e1, e2)", "takes 1 argument"),
    ("click()", "needs ref"),
    ("click(e1, foo=1)", "no parameter 'foo'"),
    ("click(e1, ref=e2)", "given twice"),
    ("click(**{'ref': 'e1'})", "no parameter None"),
    ("press(e1, 'Control+w+x')", "unknown modifier"),
    ("press(e1, 'PrintScreen')", "not allowed"),
    ("scroll(0, 1e9)", "beyond"),
    ("scroll('a', 0)", "number of pixels"),
    ("fill(e1, b'x')", "must be a literal"),
    ("fill(e1, True)", "must be a literal"),
    ("fill(e1, '" + "x" * 1200 + "')", "longer than"),
])
def test_rejects_with_a_message(text: str, message: str) -> None:
    with pytest.raises(ActionError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_action(text)


def test_side_effects_never_happen(tmp_path: object) -> None:
    """A would-be payload stays text: the file it would create never appears."""
    import pathlib

    target = pathlib.Path(str(tmp_path)) / "pwned"
    for payload in (f"__import__('pathlib').Path('{target}').touch()",
                    f"click(__import__('pathlib').Path('{target}').touch())",
                    f"fill(e1, open('{target}', 'w'))"):
        with pytest.raises(ActionError):
            parse_action(payload)
    assert not target.exists()


def test_action_str_round_trips() -> None:
    for text in ('fill("e5", "it\'s")', "scroll(0, -5)", "noop()", 'stop("x")'):
        a = parse_action(text)
        assert parse_action(str(a)) == a
    assert set(ACTIONS) == {"click", "fill", "select_option", "press", "hover", "check",
                            "scroll", "noop", "stop"}


def test_canonical_action_spells_one_action_one_way() -> None:
    assert canonical_action("click( e4 )") == canonical_action('click("e4")') == "click('e4')"
    assert canonical_action("  not an action ") == "not an action"  # equals no parsed action
