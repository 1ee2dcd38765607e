"""The goal's named items on a page (worldmodel.web.goal_state) and what they give the ranker:
items are found by whole words, ticks and selections are read from the states, an extra
tick spoils `items_done`, a tab not yet expanded is a closed section; a button is marked
while a named item is unticked or a section closed, and marked done once every named item
(and nothing else) is ticked; a click on a checked radio or on a list's only selected
option is a no-op; an imagined tick of a named box is progress, one the page cannot take
is none; a quoted text counts as filled only in the goal's case."""

from __future__ import annotations

import pytest

from worldplan.envs.web.axtree import parse_tree
from worldplan.worldmodel.web.action_features import (
    FEATURES,
    OptionFacts,
    action_features,
    is_no_op,
)
from worldplan.worldmodel.web.goal_state import goal_state, names_in
from worldplan.worldmodel.web.imagined_features import imagined_features

GOAL = "Select CLyI, Tedi and click Submit."
BOXES = """- generic [ref=e1]:
  - checkbox "yKw8ox" [ref=e4]
  - checkbox "CLyI" {a}[ref=e6]
  - checkbox "Tedi" {b}[ref=e8]
  - button "Submit" [ref=e9]"""


def boxes(a: bool = False, b: bool = False) -> str:
    return BOXES.format(a="[checked] " if a else "", b="[checked] " if b else "")


def feature(tree: str, action: str, name: str, goal: str = GOAL) -> float:
    return action_features(goal, tree, (), action, OptionFacts())[FEATURES.index(name)]


@pytest.mark.parametrize("name, found", [
    ("CLyI", True), ("clyi", True), ("Tedi", True), ("Ted", False), ("yKw8ox", False),
    ("Submit", True), ("I", False), ("", False)])
def test_names_are_found_as_whole_words(name: str, found: bool) -> None:
    assert names_in(GOAL, name) is found


def test_ticks_extra_ticks_and_done() -> None:
    assert goal_state(GOAL, parse_tree(boxes())).unticked == 2
    half = goal_state(GOAL, parse_tree(boxes(a=True)))
    assert (half.named, half.ticked_named, half.items_done) == (2, 1, False)
    assert goal_state(GOAL, parse_tree(boxes(a=True, b=True))).items_done
    extra = boxes(a=True, b=True).replace('"yKw8ox" ', '"yKw8ox" [checked] ')
    state = goal_state(GOAL, parse_tree(extra))
    assert state.ticked_other == 1 and not state.items_done


@pytest.mark.parametrize("a, b", [(False, False), (False, True), (True, False), (True, True)])
def test_ticking_a_named_box_is_one_step_of_progress(a: bool, b: bool) -> None:
    before = goal_state(GOAL, parse_tree(boxes(a, b))).progress
    if not a:
        assert goal_state(GOAL, parse_tree(boxes(True, b))).progress == before + 1
    assert before == a + b


def test_a_button_waits_for_the_named_items_and_the_closed_sections() -> None:
    assert feature(boxes(), "click('e9')", "button_unticked_goal_item") == 1.0
    assert feature(boxes(), "click('e9')", "button_goal_items_done") == 0.0
    assert feature(boxes(), "check('e6')", "button_unticked_goal_item") == 0.0  # not a button
    done = boxes(a=True, b=True)
    assert feature(done, "click('e9')", "button_unticked_goal_item") == 0.0
    assert feature(done, "click('e9')", "button_goal_items_done") == 1.0
    tabs = """- tablist [ref=e1]:
  - 'tab "Section #5" [ref=e2]'
  - tab [ref=e3]:
    - button "Submit" [ref=e4]"""
    goal = "Expand the section below and click submit."
    assert feature(tabs, "click('e4')", "button_closed_tab", goal) == 1.0
    for state in ("[expanded]", "[selected]"):  # either one shows the section
        opened = tabs.replace('#5" [ref', f'#5" {state} [ref')
        assert feature(opened, "click('e4')", "button_closed_tab", goal) == 0.0


LIST = """- listbox [ref=e2]:
  - option "Selma" [ref=e3]
  - option "Cassandry" [selected] [ref=e4]
- radio "Yes" [checked] [ref=e5]
- radio "No" [ref=e6]"""


@pytest.mark.parametrize("action, done", [
    ("click('e4')", True), ("click('e3')", False), ("click('e5')", True),
    ("click('e6')", False)])
def test_clicking_what_is_already_picked_is_a_no_op(action: str, done: bool) -> None:
    assert is_no_op(parse_tree(LIST), action) is done
    both = LIST.replace('"Selma" [ref', '"Selma" [selected] [ref')
    assert not is_no_op(parse_tree(both), "click('e4')")  # would drop Selma: a change


def test_only_the_options_of_the_clicked_list_count() -> None:
    two = """- listbox:
  - option "A" [selected] [ref=e2]
  - option "B" [ref=e3]
- listbox:
  - option "C" [selected] [ref=e5]
  - option "D" [ref=e6]"""
    nodes = parse_tree(two)  # two lists with the same line: found by position
    assert is_no_op(nodes, "click('e2')") and is_no_op(nodes, "click('e5')")
    assert not is_no_op(nodes, "click('e3')")


def test_an_imagined_tick_of_a_named_box_is_progress() -> None:
    tick = '~ checkbox "CLyI" [ref=e6] -> checkbox "CLyI" [checked] [ref=e6]'
    assert imagined_features(GOAL, boxes(), tick)["wm_goal_progress"] == 1.0
    wrong = '~ checkbox "yKw8ox" [ref=e4] -> checkbox "yKw8ox" [checked] [ref=e4]'
    assert imagined_features(GOAL, boxes(), wrong)["wm_goal_progress"] == -1.0
    absent = '~ checkbox "Nope" [ref=e77] -> checkbox "Nope" [checked] [ref=e77]'
    out = imagined_features(GOAL, boxes(), absent)
    assert out["wm_goal_progress"] == 0.0


def test_a_quote_is_filled_only_as_the_goal_writes_it() -> None:
    goal = 'Type "Jerald" and press Submit.'
    held = goal_state(goal, parse_tree('- textbox [ref=e1]: Jerald'))
    lower = goal_state(goal, parse_tree('- textbox [ref=e1]: jerald'))
    assert (held.filled_quotes, lower.filled_quotes) == (1, 0)
