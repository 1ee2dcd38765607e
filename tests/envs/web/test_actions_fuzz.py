"""Property tests of the action language (envs.web.actions.parse_action) on untrusted text.

Any text parses to an allowed `Action` or raises `ActionError`, never another exception, and
within the profile's deadline (tests.fuzzing); an action's canonical string parses back to
the same action. Inputs: arbitrary text, text built from the language's own pieces (names,
refs, literals, brackets, operators), and long or deeply nested text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzzing import TEST_TIMEOUT_S
from worldplan.envs.web.actions import (
    ALLOWED,
    MAX_COORD,
    MAX_SCROLL,
    MAX_TEXT_CHARS,
    MAX_WAIT_MS,
    MODIFIERS,
    NAMED_KEYS,
    REF_RE,
    Action,
    ActionError,
    parse_action,
)

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)

PIECES = [*ALLOWED, "goto", "eval", "__import__", "e1", "e12", "f1e3", "x", "(", ")", "[",
          "]", "{", "}", ",", "=", " ", '"', "'", "\\", "-", "+", "*", "**", ".", ":", ";",
          "1", "0", "1.5", "1e9", "-200", "True", "None", "b''", "'a'", '"Enter"', "lambda",
          "not", "\n", "\x00", "ref", "text", "key", "dx", "dy", "answer", "#", "@", "\ud800"]
language_like = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
untrusted = st.one_of(st.text(max_size=300), language_like,
                      st.builds(lambda n, s: s * n, st.integers(1, 3000),
                                st.sampled_from(["(", "-", "not ", "[", "click(", "'", "e1,",
                                                 "(((((", "a.", "\\"])))


def _check(action: Action) -> None:
    """What every parsed action satisfies: an allowed name with its parameters' types."""
    params = ALLOWED[action.name]
    assert set(action.args) == {p for p, _ in params}
    for pname, ptype in params:
        value = action.args[pname]
        if ptype == "ref":
            assert isinstance(value, str) and REF_RE.match(value)
        elif ptype in ("str", "key"):
            assert isinstance(value, str) and len(value) <= MAX_TEXT_CHARS
        else:
            assert isinstance(value, int | float) and not isinstance(value, bool)
            bound = {"num": MAX_SCROLL, "coord": MAX_COORD, "ms": MAX_WAIT_MS}[ptype]
            assert math.isfinite(value) and abs(value) <= bound
            assert ptype == "num" or value >= 0


@given(untrusted)
@example("\ud800")  # found by fuzzing: a lone surrogate made ast raise UnicodeEncodeError
@example("click('\x00')")  # a null byte: SyntaxError in ast, must be an ActionError
@example("-" * 1999 + "1")  # deep unary nesting within MAX_ACTION_CHARS
@example("(" * 300 + ")" * 300)  # too many nested parentheses
@example("scroll(1e999, 0)")  # an infinite literal
@example("scroll(-1e999, 0)")
@example("fill(e1, " + "9" * 5000 + ")")  # an integer too long to turn into text
def test_any_text_is_an_action_or_an_action_error(text: str) -> None:
    try:
        action = parse_action(text)
    except ActionError:
        return
    _check(action)


refs = st.from_regex(r"(?:f[0-9]{1,3})?e[0-9]{1,5}", fullmatch=True)
texts = st.text(max_size=MAX_TEXT_CHARS)
keys = st.one_of(st.sampled_from(sorted(NAMED_KEYS)),
                 st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp", "Cn", "Co", "Cf",
                                                   "Zs")).filter(lambda c: c != "+"),
                 st.builds(lambda m, k: f"{m}+{k}", st.sampled_from(sorted(MODIFIERS)),
                           st.sampled_from(sorted(NAMED_KEYS))))
pixels = st.one_of(st.integers(-MAX_SCROLL, MAX_SCROLL),
                   st.floats(-MAX_SCROLL, MAX_SCROLL, allow_nan=False))
ARG = {"ref": refs, "str": texts, "key": keys, "num": pixels,
       "coord": st.one_of(st.integers(0, MAX_COORD), st.floats(0, MAX_COORD)),
       "ms": st.one_of(st.integers(0, MAX_WAIT_MS), st.floats(0, MAX_WAIT_MS))}


def actions_of(names: Iterable[str]) -> st.SearchStrategy[Action]:
    """Valid actions of the given names, with any allowed arguments."""
    return st.sampled_from(sorted(names)).flatmap(lambda name: st.fixed_dictionaries(
        {p: ARG[t] for p, t in ALLOWED[name]}).map(lambda args: Action(name, args)))


actions = actions_of(ALLOWED)  # the whole language: ACTIONS and INPUT_ACTIONS


@given(actions)
@example(Action("scroll", {"dx": -0.0, "dy": 1e-300}))
@example(Action("fill", {"ref": "e1", "text": "\x00\n'\"\\"}))
def test_canonical_string_round_trips(action: Action) -> None:
    again = parse_action(str(action))
    assert again == action
    assert str(again) == str(action)
