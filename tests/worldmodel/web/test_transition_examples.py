"""Worked examples for the world model (worldmodel.web.transition_examples): the same verb
only, never the page being imagined, one per page, the closest element first, in the
format the model must write; bad files are refused, bad lines skipped and counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from worldplan.envs.web.observation import WebObservation
from worldplan.worldmodel.web.prompts import role_of_messages, world_model_messages
from worldplan.worldmodel.web.transition_examples import Example, ExampleBank, read_example_bank

FORM = '- textbox "Name" [ref=e2]\n- checkbox "Agree" [ref=e4]\n- button "Submit" [ref=e3]'


def ex(task: str, action: str, before: str, after: str) -> Example:
    return Example(f"/miniwob/{task}.html", before, action, after)


BANK = [
    ex("form", "fill('e2', 'Ann')", FORM, FORM.replace('[ref=e2]', '[ref=e2]: Ann')),
    ex("login", "fill('e7', 'kim')", '- textbox "User" [ref=e7]', '- textbox "User" [ref=e7]: kim'),
    ex("login", "fill('e8', 'pw')", '- textbox "Pass" [ref=e8]', '- textbox "Pass" [ref=e8]: pw'),
    ex("search", "fill('e1', 'x')", '- searchbox "Find" [ref=e1]',
       '- searchbox "Find" [ref=e1]: x'),
    ex("boxes", "check('e4')", '- checkbox "Red" [ref=e4]', '- checkbox "Red" [checked] [ref=e4]'),
]


def obs(task: str, tree: str) -> str:
    return WebObservation("Enter the name.", f"http://127.0.0.1:5000/miniwob/{task}.html",
                          tree).to_prompt()


def test_same_verb_other_pages_one_each_closest_role_first() -> None:
    bank = ExampleBank(BANK, shots=3)
    chosen = bank.select(obs("form", FORM), "fill('e2', 'Bob')")
    urls = [c.example.url for c in chosen]
    assert "/miniwob/form.html" not in urls  # the page being imagined teaches nothing
    assert len(set(urls)) == len(urls) == 2  # login once, search once; check never
    assert chosen[0].example.url == "/miniwob/login.html"  # a textbox, like the target
    assert {c.verb for c in chosen} == {"fill"}


def test_the_rendered_examples_are_in_the_prediction_format() -> None:
    bank = ExampleBank(BANK, shots=1)
    text = bank.render(obs("boxes2", '- checkbox "Blue" [ref=e9]'), "check('e9')")
    assert text.splitlines()[1:] == [
        'Element: checkbox "Red" [ref=e4]', "Action: check('e4')", "Changed lines:",
        '~ checkbox "Red" [ref=e4] => checkbox "Red" [checked] [ref=e4]']
    messages = world_model_messages(obs("boxes2", "x"), "check('e9')", examples=text)
    assert role_of_messages(messages) == "world_model"  # the TASK paragraph stays last
    assert text in str(messages[-1]["content"])
    assert bank.render(obs("boxes2", "x"), "scroll(0, 100)") == ""  # no example of it
    assert bank.render(obs("boxes2", "x"), "not an action") == ""


def test_files_bad_lines_are_counted_and_empty_files_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    rec = {"task": "login", "url": "/miniwob/login.html", "before": "b", "action": "noop()",
           "after": "a", "seed": 0}
    path.write_text(json.dumps(rec) + "\n{truncated\n" + json.dumps({"url": "x"}) + "\n")
    bank = read_example_bank(path)
    assert len(bank) == 1 and bank.skipped == 2
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="no transitions"):
        read_example_bank(tmp_path / "empty.jsonl")
    with pytest.raises(ValueError, match="shots"):
        ExampleBank(BANK, shots=0)
