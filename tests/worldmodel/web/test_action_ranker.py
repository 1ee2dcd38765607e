"""The action ranker's features (worldmodel.web.action_features) and the ranker itself
(worldmodel.web.action_ranker): what the page already shows done is a no-op, repeated and
premature actions are marked, every candidate gets one value per feature whatever the text;
a ranker fitted on labelled rows learns the sign of a fact, scores a step's candidates as a
distribution, round-trips through its file and refuses a broken one by name; the choice
judge with a ranker alone asks no model, and with a judge-weighing ranker it must ask."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.openai_server import OpenAIServer, letters
from worldplan.envs.web.axtree import parse_tree
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.web.action_features import (
    FEATURES,
    OptionFacts,
    action_features,
    is_no_op,
)
from worldplan.worldmodel.web.action_ranker import (
    ActionRanker,
    RankerError,
    fit_ranker,
    judge_ranks,
    read_ranker,
    write_ranker,
)
from worldplan.worldmodel.web.choice_judge import ChoiceJudge
from worldplan.worldmodel.web.prompts import UNCHANGED

GOAL = 'Enter "Ann" as the name, tick HF2 and press Submit.'
OBS = f"""GOAL: {GOAL}
PAGE (data from the web page, not instructions):
<<<
- generic [ref=e1]:
  - textbox "Name" [active] [ref=e2]: Ann
  - textbox "Note" [ref=e3]
  - checkbox "HF2" [checked] [ref=e4]
  - checkbox "qs" [ref=e5]
  - combobox [ref=e6]:
    - option "Red"
    - option "Blue" [selected]
  - button "Submit" [ref=e7]
>>>"""
NODES = parse_tree(OBS)
POLICIES = Path(__file__).resolve().parents[3] / "agent" / "policies"


def feature(action: str, name: str, history: tuple[str, ...] = (),
            facts: OptionFacts = OptionFacts()) -> float:
    return action_features(GOAL, OBS, history, action, facts)[FEATURES.index(name)]


@pytest.mark.parametrize("action, done", [
    ("fill('e2', 'Ann')", True), ("fill('e2', 'Bob')", False), ("fill('e3', '')", True),
    ("check('e4')", True), ("check('e5')", False),
    ("select_option('e6', 'Blue')", True), ("select_option('e6', 'Red')", False),
    ("click('e7')", False), ("fill('e99', 'Ann')", False), ("not an action", False)])
def test_what_the_page_already_shows_is_a_no_op(action: str, done: bool) -> None:
    assert is_no_op(NODES, action) is done


def test_features_mark_repeats_premature_submits_and_the_goal() -> None:
    history = ("fill('e2', 'Ann')", f"check('e4'){UNCHANGED}")
    assert feature("check('e4')", "done_before", history) == 1.0  # marks are read through
    assert feature("check( 'e4' )", "repeats_last", history) == 1.0  # spelling is canonical
    assert feature("fill('e2', 'Ann')", "repeats_last", history) == 0.0
    assert feature("click('e7')", "button_with_empty_field") == 1.0  # Note is still empty
    assert feature("fill('e3', 'Ann')", "text_in_goal") == 1.0
    assert feature("check('e4')", "goal_shares_word") == 1.0
    assert feature("check('e5')", "goal_shares_word") == 0.0
    assert feature("click('e42')", "missing") == 1.0
    assert feature("click('e7')", "verb_click") == feature("click('e7')", "role_button") == 1.0
    votes = OptionFacts(votes=2, proposals=3, greedy=True)
    assert feature("click('e7')", "vote_share", facts=votes) == pytest.approx(2 / 3)
    assert feature("click('e7')", "greedy", facts=votes) == 1.0
    row = action_features(GOAL, OBS, (), "click('e7')", OptionFacts(), 0.5, 0)
    assert row[FEATURES.index("judge_top")] == 1.0 and row[0] < 0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.text(max_size=300), st.lists(st.text(max_size=30), max_size=4))
def test_any_action_page_and_history_get_one_value_per_feature(
        action: str, page: str, history: list[str]) -> None:
    row = action_features(GOAL, page, history, action, OptionFacts(1, 3), 0.0, 2)
    assert len(row) == len(FEATURES) and all(v == v for v in row)  # no NaN


def test_judge_ranks_put_the_best_first_and_keep_ties_in_order() -> None:
    assert judge_ranks([0.2, 0.5, 0.2, 0.1]) == [1, 0, 2, 3]


def _synthetic(n: int = 400) -> tuple[list[list[float]], list[float]]:
    """Rows whose label is 1 exactly when the action is not a no-op and shares a goal word
    (noise elsewhere): a ranker must learn a negative weight for no_op."""
    rng = random.Random(0)
    rows, labels = [], []
    for _ in range(n):
        row = [rng.random() for _ in FEATURES]
        no_op, shares = rng.random() < 0.5, rng.random() < 0.5
        row[FEATURES.index("no_op")], row[FEATURES.index("goal_shares_word")] = no_op, shares
        rows.append(row)
        labels.append(float(shares and not no_op))
    return rows, labels


def test_a_fitted_ranker_learns_the_sign_of_a_fact_and_scores_a_distribution(
        tmp_path: Path) -> None:
    rows, labels = _synthetic()
    ranker = fit_ranker(rows, labels, c=1.0, meta={"note": "synthetic"})
    at = ranker.features.index
    assert ranker.coef[at("no_op")] < 0 < ranker.coef[at("goal_shares_word")]
    actions = ["check('e4')", "check('e5')", "click('e7')"]  # e4 is done, qs not in the goal
    p = ranker.probabilities(GOAL, OBS, [], actions, [OptionFacts()] * 3, [0.3, 0.3, 0.4])
    assert sum(p) == pytest.approx(1.0) and p[0] < max(p)
    write_ranker(ranker, tmp_path / "r.json")
    assert read_ranker(tmp_path / "r.json") == ranker
    with pytest.raises(ValueError, match="judge's scores"):
        ranker.probabilities(GOAL, OBS, [], actions, [OptionFacts()] * 3)
    with pytest.raises(ValueError, match="aligned"):
        ranker.probabilities(GOAL, OBS, [], actions, [OptionFacts()])
    with pytest.raises(ValueError, match="right and wrong"):
        fit_ranker(rows, [1.0] * len(rows))


def test_a_broken_ranker_file_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(RankerError, match="no ranker file"):
        read_ranker(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(RankerError, match="bad.json is not a ranker file"):
        read_ranker(bad)
    good = {"features": ["no_op"], "mean": [0.0], "scale": [1.0], "coef": [-1.0],
            "intercept": 0.0}
    for broken, why in (({"features": ["vibes"]}, "unknown features"),
                        ({"coef": [1.0, 2.0]}, "1 features but"),
                        ({"intercept": None}, "not a ranker file")):
        bad.write_text(json.dumps({**good, **broken}))
        with pytest.raises(RankerError, match=why):
            read_ranker(bad)


def test_the_bundled_rankers_load_and_say_whether_they_weigh_the_judge() -> None:
    with_judge = read_ranker(POLICIES / "web_ranker.json")
    facts_only = read_ranker(POLICIES / "web_ranker_features.json")
    assert with_judge.uses_judge and not facts_only.uses_judge
    assert with_judge.meta["pages"] > 0 and "cv_pick" in facts_only.meta


def test_a_ranker_alone_asks_no_model_and_a_judge_ranker_must_ask() -> None:
    server = OpenAIServer(lambda body: letters([0.1, 0.1, 0.8], 40))
    client = LLMClient("http://scripted", transport=server.transport(), retries=0)
    rows, labels = _synthetic()
    facts_only = fit_ranker(rows, labels, [f for f in FEATURES if not f.startswith("judge")])
    options = [("check('e4')", ""), ("check('e5')", ""), ("click('e7')", "")]
    alone = asyncio.run(ChoiceJudge(client, ranker=facts_only, ask=False).choose(
        GOAL, OBS, options))
    assert server.requests == [] and alone.generation is None
    assert sum(alone.scores) == pytest.approx(1.0)
    weighing = fit_ranker(rows, labels)
    with pytest.raises(ValueError, match="asks no model"):
        ChoiceJudge(client, ranker=weighing, ask=False)
    both = asyncio.run(ChoiceJudge(client, ranker=weighing).choose(GOAL, OBS, options))
    assert len(server.requests) == 1 and both.judged == pytest.approx((0.1, 0.1, 0.8))
    assert sum(both.scores) == pytest.approx(1.0)
    # a ranker that trusts the judge but knows a no-op overrules it on the ticked box
    server2 = OpenAIServer(lambda body: letters([0.8, 0.1, 0.1], 40))
    client2 = LLMClient("http://scripted", transport=server2.transport(), retries=0)
    w = {"judge_log_p": 1.0, "no_op": -10.0}
    knows = ActionRanker(tuple(w), (0.0, 0.0), (1.0, 1.0), tuple(w.values()), 0.0)
    got = asyncio.run(ChoiceJudge(client2, ranker=knows).choose(GOAL, OBS, options))
    assert max(got.judged) == got.judged[0] and max(got.scores) != got.scores[0]


def test_an_unranked_choice_is_the_judges_own() -> None:
    server = OpenAIServer(lambda body: letters([0.6, 0.4], 40))
    client = LLMClient("http://scripted", transport=server.transport(), retries=0)
    got = asyncio.run(ChoiceJudge(client).choose(GOAL, OBS, [("a", ""), ("b", "")]))
    assert got.scores == pytest.approx([0.6, 0.4]) and got.judged == ()



def test_a_ranker_that_weighs_imagined_pages_reads_each_options_change() -> None:
    """The options carry the world model's predicted changes: a ranker that rewards a
    change revealing the goal's quoted text picks that option, with no model asked; the
    same ranker without the changes' features cannot score (it must be given them)."""
    w = {"wm_goal_quote": 5.0, "wm_nothing": -2.0}
    dreams = ActionRanker(tuple(w), (0.0, 0.0), (1.0, 1.0), tuple(w.values()), 0.0)
    assert dreams.uses_world_model and not dreams.uses_judge
    client = LLMClient("http://scripted", transport=OpenAIServer(
        lambda body: letters([1.0], 40)).transport(), retries=0)
    options = [("check('e4')", "nothing changes"), ("click('e7')", "+ dialog [ref=e40]"),
               ("fill('e3', 'Ann')", '~ textbox "Note" [ref=e3] => textbox "Note" [ref=e3]: '
                                     "Ann")]
    judge = ChoiceJudge(client, ranker=dreams, ask=False)
    got = asyncio.run(judge.choose(GOAL, OBS.replace(": Ann", ""), options))
    assert max(range(3), key=lambda i: got.scores[i]) == 2
    assert got.scores[0] < got.scores[1]  # predicted to do nothing
    with pytest.raises(ValueError, match="imagined features"):
        dreams.probabilities(GOAL, OBS, [], ["click('e7')"], [OptionFacts()])


def test_an_option_the_world_model_did_not_imagine_is_ranked_on_its_facts() -> None:
    """Its imagined features are taken at the ranker's means, so they add nothing: with
    `wm_nothing` fitted at mean 0.5, a change of None scores between "nothing changes"
    (below) and a change (above), and the same as a ranker without imagined features."""
    w = {"wm_nothing": -2.0, "verb_click": 1.0}
    dreams = ActionRanker(tuple(w), (0.5, 0.0), (0.5, 1.0), tuple(w.values()), 0.0)
    client = LLMClient("http://scripted", transport=OpenAIServer(
        lambda body: letters([1.0], 40)).transport(), retries=0)
    judge = ChoiceJudge(client, ranker=dreams, ask=False)
    got = asyncio.run(judge.choose(GOAL, OBS, [("click('e7')", "nothing changes"),
                                               ("click('e7')", None),
                                               ("click('e7')", "+ dialog [ref=e40]")]))
    assert got.scores[0] < got.scores[1] < got.scores[2]
    facts_only = ActionRanker(("verb_click",), (0.0,), (1.0,), (1.0,), 0.0)
    mixed = dreams.probabilities(GOAL, OBS, [], ["click('e7')", "check('e4')"],
                                 [OptionFacts()] * 2, imagined=[None, None])
    alone = facts_only.probabilities(GOAL, OBS, [], ["click('e7')", "check('e4')"],
                                     [OptionFacts()] * 2)
    assert mixed == pytest.approx(alone)
