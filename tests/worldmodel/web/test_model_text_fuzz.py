"""Property tests of what the web roles read from model text (worldmodel.web).

- `extract_action(text)`: an allowed `Action` or `ActionError`, for any text, chatty or not;
  the canonical string of an action of the agent's language (`ACTIONS`, what the proposer's
  prompt offers) inside chatter is found again.
- `parse_label(text)`: 1.0, 0.5, 0.0 or None, never an exception.
- `page_change(before, after)` and `prediction_accuracy(prediction, before, after)`: lists of
  "+ "/"- " lines and an `Accuracy` with F1 in [0, 1], for any page texts and prediction.
All within the profile's deadline (tests.fuzzing), long and nested text included.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.envs.web.test_actions_fuzz import actions_of
from tests.fuzzing import TEST_TIMEOUT_S
from worldplan.envs.web.actions import ACTIONS, ALLOWED, Action, ActionError
from worldplan.worldmodel.web.prompts import extract_action, parse_label
from worldplan.worldmodel.web.world_model import Accuracy, page_change, prediction_accuracy

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)

CHATTER = [*ALLOWED, "(", ")", '"', "'", "\\", "e1", "e42", ", ", "Sure! ", "I will ",
           "```", "\n", "success", "on track", "failure", "fail", "Success", "[ref=e3]",
           "nothing changes", "- button", "\ud800", "\x00", "click(e1)", 'fill("e2", "x")']
chatty = st.lists(st.sampled_from(CHATTER), max_size=40).map("".join)
repeated = st.builds(lambda n, s: s * n, st.integers(1, 3000),
                     st.sampled_from(["click(", "click('", "(", "fill(e1, '", "stop(",
                                      "on track ", "- x\n"]))
untrusted = st.one_of(st.text(max_size=400), chatty, repeated)


@given(untrusted)
@example("click(" * 3000)  # found: unclosed calls were each scanned to the end (7 s)
@example("click('" * 3000)
@example("stop(" + "(" * 500 + ")" * 500 + ")")
def test_extract_action_is_an_action_or_an_action_error(text: str) -> None:
    try:
        action = extract_action(text)
    except ActionError:
        return
    assert isinstance(action, Action) and action.name in ALLOWED


@given(actions_of(ACTIONS), st.text(max_size=80), st.text(max_size=80))
def test_an_action_in_chatter_is_found(action: Action, before: str, after: str) -> None:
    found = extract_action(f"Sure. The next action is:\n{action}\n")
    assert found == action
    try:  # with arbitrary chatter around it, whatever is found is still an allowed action
        other = extract_action(f"{before}\n{action}\n{after}")
    except ActionError:
        return
    assert other.name in ALLOWED


@given(untrusted)
def test_parse_label_is_a_score_or_none(text: str) -> None:
    assert parse_label(text) in (None, 0.0, 0.5, 1.0)


pages = st.one_of(st.text(max_size=300), st.lists(st.sampled_from(
    ["- button \"Go\" [ref=e1]", "- textbox [ref=e2] [active]", "  :  x", "[cursor=pointer]",
     "", " - ", "[ref=", "]", "\n", "\r", "\u2028", "GOAL: x", "- heading \"Done\""]),
    max_size=30).map("\n".join))


@given(pages, pages, untrusted)
@example("", "", "")
@example("a\u2028b", "a", "nothing changes")
def test_page_change_and_accuracy(before: str, after: str, prediction: str) -> None:
    change = page_change(before, after)
    assert all(isinstance(x, str) and x[:2] in ("+ ", "- ") for x in change)
    acc = prediction_accuracy(prediction, before, after)
    assert isinstance(acc, Accuracy) and 0.0 <= acc.f1 <= 1.0
    assert acc.changed_real == bool(change)
    assert acc.change_agrees == (acc.changed_predicted == acc.changed_real)
