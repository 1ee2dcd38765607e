"""Local effects (worldmodel.web.local_effects), the local-first world model
(worldmodel.web.local_first) and the imagined features (worldmodel.web.imagined_features):
a fill, a tick, a radio of a group, a selection and an inert click are computed as the
browser shows them; a button, a link, an unknown ref or an unparsable action are left to
the LLM; on the recorded dev transitions the computed changes are the real ones for most
actions they cover; the local-first model asks its inner model only for the rest; every
page and action gives an applicable change or None."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.web.imagined_features import IMAGINED_FEATURES, imagined_features
from worldplan.worldmodel.web.local_effects import local_change
from worldplan.worldmodel.web.local_first import LocalFirstWorldModel
from worldplan.worldmodel.web.page_diff import (
    apply_change,
    real_change,
    score_change,
)
from worldplan.worldmodel.web.world_model import Prediction, Step

TREE = """- generic [ref=e1]:
  - textbox "Name" [active] [ref=e2]: Ann
  - textbox [ref=e3]
  - generic [ref=e10]:
    - generic [ref=e11]:
      - radio "AU" [checked] [ref=e12]
      - text: AU
    - generic [ref=e13]:
      - radio "gH" [ref=e14]
      - text: gH
  - radio "other group" [checked] [ref=e15]
  - checkbox "HF2" [checked] [ref=e4]
  - checkbox "qs" [ref=e5]
  - combobox [ref=e6]:
    - option "Red"
    - option "Blue" [selected]
  - paragraph [ref=e7]: Some text.
  - button "Submit" [ref=e8]
  - link "More" [ref=e9]"""
DATA = Path(__file__).resolve().parents[3] / "benchmarks" / "web_transitions"


def changed(action: str) -> list[tuple[str, str]] | None:
    c = local_change(TREE, action)
    return None if c is None else list(c.changed)


@pytest.mark.parametrize(("action", "want"), [
    ("fill('e3', 'Bob')", [("textbox [ref=e3]", "textbox [ref=e3]: Bob")]),
    ("fill('e2', 'Ann')", []),  # already there: nothing changes
    ("fill('e3', '1998')", [("textbox [ref=e3]", 'textbox [ref=e3]: "1998"')]),  # YAML quotes
    ("fill('e3', '21:37')", [("textbox [ref=e3]", "textbox [ref=e3]: 21:37")]),
    ("check('e5')", [('checkbox "qs" [ref=e5]', 'checkbox "qs" [checked] [ref=e5]')]),
    ("check('e4')", []),
    ("click('e4')", [('checkbox "HF2" [checked] [ref=e4]', 'checkbox "HF2" [ref=e4]')]),
    # a radio unticks its group's radio (the grandparent's), not the one of another group
    ("check('e14')", [('radio "gH" [ref=e14]', 'radio "gH" [checked] [ref=e14]'),
                      ('radio "AU" [checked] [ref=e12]', 'radio "AU" [ref=e12]')]),
    ("select_option('e6', 'Red')", [('option "Blue" [selected]', 'option "Blue"'),
                                    ('option "Red"', 'option "Red" [selected]')]),
    ("click('e7')", []),
    ("click('e3')", []),  # a click on a textbox only focuses it
])
def test_local_effects_as_the_browser_shows_them(action: str,
                                                 want: list[tuple[str, str]]) -> None:
    got = changed(action)
    assert got is not None
    assert sorted(got) == sorted(want)
    apply_change(TREE, local_change(TREE, action))  # type: ignore[arg-type]


@pytest.mark.parametrize("action", ["click('e8')", "click('e9')", "click('e1')",
                                    "fill('e99', 'x')", "select_option('e6', 'Green')",
                                    "fill('e4', 'x')", "press('Enter')", "not an action"])
def test_effects_that_are_not_local_or_not_certain_are_left_to_the_model(action: str) -> None:
    assert local_change(TREE, action) is None


def test_recorded_transitions_are_mostly_computed_right() -> None:
    """On every recorded dev and outside transition the local change covers, it is the real
    change for at least 85% (measured 0.87 and 0.95: what it misses are page handlers, such
    as an autocomplete list or a date picker, and episodes that end)."""
    for name, least in (("miniwob-dev.jsonl", 0.85), ("miniwob-outside15.jsonl", 0.85)):
        covered = exact = 0
        for line in (DATA / name).read_text().splitlines():
            t = json.loads(line)
            c = local_change(t["before"], t["action"])
            if c is None:
                continue
            covered += 1
            exact += score_change(c, real_change(t["before"], t["after"])).exact
        assert covered >= 40
        assert exact / covered >= least, (name, exact, covered)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["fill", "check", "click", "select_option", "hover"]),
       st.sampled_from([f"e{i}" for i in range(0, 17)]),
       st.text(max_size=12))
def test_any_action_gives_an_applicable_change_or_none(verb: str, ref: str,
                                                        text: str) -> None:
    action = (f"{verb}({ref!r}, {text!r})" if verb in ("fill", "select_option")
              else f"{verb}({ref!r})")
    c = local_change(TREE, action)
    if c is not None:
        apply_change(TREE, c)


@dataclass
class CountingModel:
    max_tokens: int = 7
    calls: list[str] = field(default_factory=list)

    async def predict(self, obs: str, action: str, *, imagined: Sequence[Step] = (),
                      history: Sequence[str] = (), n: int = 1,
                      budget: Budget | None = None) -> list[Prediction]:
        self.calls.append(action)
        return [Prediction("+ dialog [ref=e50]", 5, "stop")] * n


def test_local_first_asks_the_model_only_for_what_it_cannot_compute() -> None:
    obs = f"GOAL: x\nPAGE:\n<<<\n{TREE}\n>>>\n"
    inner = CountingModel()
    model = LocalFirstWorldModel(inner)

    async def go() -> tuple[list[Prediction], list[Prediction]]:
        return (await model.predict(obs, "fill('e3', 'Bob')", n=2),
                await model.predict(obs, "click('e8')"))

    assert model.computes(obs, "fill('e3', 'Bob')") and not model.computes(obs, "click('e8')")
    local, asked = asyncio.run(go())
    assert inner.calls == ["click('e8')"]
    assert (model.local, model.asked) == (1, 1)
    assert len(local) == 2 and local[0].tokens == 0 and not local[0].error
    assert "textbox [ref=e3]: Bob" in local[0].page and "IMAGINED" in local[0].page
    assert asked[0].text == "+ dialog [ref=e50]"
    assert model.max_tokens == 7


def test_imagined_features_read_the_change() -> None:
    goal = 'Switch between the tabs to find and click on the link "Nisl".'
    tree = '- tab [selected] [ref=e3]\n- tab [ref=e5]\n- link "Amet" [ref=e9]'
    shows = imagined_features(goal, tree, '+ link "Nisl" [ref=e12]')
    assert shows["wm_goal_quote"] == 1.0 and shows["wm_goal_words"] > 0
    assert imagined_features(goal, tree, "nothing changes")["wm_nothing"] == 1.0
    assert imagined_features(goal, tree, "", error="no such line")["wm_error"] == 1.0
    same = imagined_features(goal, tree + '\n- link "Nisl" [ref=e10]', '+ link "Nisl"')
    assert same["wm_goal_quote"] == 0.0  # already on the page: nothing new
    assert set(shows) == set(IMAGINED_FEATURES)
