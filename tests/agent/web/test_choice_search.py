"""choice_select (agent.web.choice_search): every root imagined, one choice among them; a
root whose prediction cannot be applied is not shown and scores 0; a judge that answers no
letter, or a budget that stops it, chooses nothing and keeps the paid-for predictions; a
ranker alone ranks the roots the world model did not imagine on their facts."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tests.fakes.openai_server import OpenAIServer, letters, yes_no
from worldplan.agent.graph.tree import Keys
from worldplan.agent.web.choice_search import choice_select
from worldplan.agent.web.imagination import Imagination
from worldplan.agent.web.proposer import Proposer
from worldplan.worldmodel.llm.accounting import Budget, BudgetExceeded
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.web.action_features import OptionFacts
from worldplan.worldmodel.web.action_ranker import ActionRanker
from worldplan.worldmodel.web.choice_judge import ChoiceJudge
from worldplan.worldmodel.web.world_model import Prediction

OBS = "GOAL: tick and submit.\nPAGE:\n<<<\n- checkbox \"A\" [ref=e4]\n- button \"Go\" [ref=e5]\n>>>"
ROOTS = [("c0", "check('e4')"), ("c1", "click('e5')"), ("c2", "noop()")]


class Predictor:
    """A world model whose noop prediction cannot be applied."""

    max_tokens = 8

    async def predict(self, obs: str, action: str, *, imagined: Sequence = (),
                      history: Sequence[str] = (), n: int = 1,
                      budget: Budget | None = None) -> list[Prediction]:
        if action == "noop()":
            return [Prediction("- button \"Nope\"", 4, "stop", "", "no such line")] * n
        return [Prediction(f"changed by {action}", 4, "stop", "page")] * n


def _select(reply: object, budget: Budget | None = None) -> tuple:
    server = OpenAIServer(lambda body: reply, tokenize=lambda body: 30)
    client = LLMClient("http://scripted", transport=server.transport(), retries=0)
    im = Imagination(Predictor(), ChoiceJudge(client), Proposer(client), "tick and submit.",
                     OBS, ["noop()"])
    out = asyncio.run(choice_select(im, im.verifier, ROOTS, Keys(0), budget or Budget(),
                                    samples=2))
    return out, server.requests


def test_one_question_over_the_applicable_roots() -> None:
    out, asked = _select(letters([0.3, 0.7], 30))
    assert out.action == "click('e5')" and out.score == pytest.approx(0.7)
    assert out.prediction == "changed by click('e5')"
    assert len(asked) == 1
    text = asked[0]["messages"][-1]["content"]
    assert "A. check('e4') -> changed by check('e4')\nB. click('e5')" in text
    assert "noop()" not in text.split("Options:")[1]  # its change could not be applied
    kinds = [(n["kind"], n["answer"], n["score"]) for n in out.nodes]
    assert kinds == [("imagined_state", "check('e4')", pytest.approx(0.3)),
                     ("imagined_state", "click('e5')", pytest.approx(0.7)),
                     ("imagined_state", "noop()", 0.0)]
    assert out.nodes[2]["info"]["error"] == "no such line" and out.nodes[0]["tokens"] == 8


def test_no_letter_or_no_budget_chooses_nothing_and_keeps_the_predictions() -> None:
    out, _ = _select(yes_no(0.9, 30))
    assert out.action is None and out.stop_reason == "no_verdict"
    assert [n["kind"] for n in out.nodes] == ["unjudged"] * 3
    assert "letter mass" in out.nodes[0]["info"]["why"]
    out, asked = _select(letters([1.0, 1.0], 30), Budget(max_tokens=20))  # the judge: 31
    assert out.action is None and out.stop_reason == "budget" and asked == []


def test_the_choice_judge_cannot_score_one_state() -> None:
    client = LLMClient("http://scripted", transport=OpenAIServer(lambda b: None).transport())
    with pytest.raises(ValueError, match="cannot score one imagined state"):
        asyncio.run(ChoiceJudge(client).score("g", OBS, [[("noop()", "")]]))


def test_a_ranker_gets_each_shown_roots_own_votes_and_the_nodes_keep_the_judges_view() -> None:
    """The unshown root (its change could not be applied) comes first, so facts that were
    not filtered with the options would give check('e4') its votes instead of click('e5')'s:
    then the judge's 0.7 on check would win."""
    server = OpenAIServer(lambda body: letters([0.7, 0.3], 30), tokenize=lambda body: 30)
    client = LLMClient("http://scripted", transport=server.transport(), retries=0)
    weights = {"judge_log_p": 1.0, "vote_share": 5.0}
    ranker = ActionRanker(tuple(weights), (0.0, 0.0), (1.0, 1.0), tuple(weights.values()), 0.0)
    judge = ChoiceJudge(client, ranker=ranker)
    im = Imagination(Predictor(), judge, Proposer(client), "tick and submit.", OBS, [])
    roots = [ROOTS[2], ROOTS[0], ROOTS[1]]
    facts = [OptionFacts(0, 2), OptionFacts(0, 2), OptionFacts(2, 2, greedy=True)]
    out = asyncio.run(choice_select(im, judge, roots, Keys(0), Budget(), facts=facts))
    assert out.action == "click('e5')" and len(server.requests) == 1
    by = {n["answer"]: n for n in out.nodes}
    assert by["check('e4')"]["info"]["judge_p"] == pytest.approx(0.7)
    assert by["click('e5')"]["info"]["judge_p"] == pytest.approx(0.3)
    assert "judge_p" not in by["noop()"]["info"] and by["noop()"]["score"] == 0.0
    assert by["check('e4')"]["score"] + by["click('e5')"]["score"] == pytest.approx(1.0)


class StoppedForClicks(Predictor):
    """A world model the budget stops for any click (each would need a model call)."""

    async def predict(self, obs: str, action: str, *, imagined: Sequence = (),
                      history: Sequence[str] = (), n: int = 1,
                      budget: Budget | None = None) -> list[Prediction]:
        if action.startswith("click"):
            raise BudgetExceeded("no room", unit="tokens", needed=40, left=10)
        return await super().predict(obs, action, n=n)


def test_a_ranker_alone_ranks_the_roots_the_world_model_did_not_imagine() -> None:
    """The budget stops the click's prediction and the plan imagines only the tick: the
    step still chooses, by the ranker (the button's facts win), where an asking judge
    falls back to the majority; the nodes say which roots were not imagined."""
    server = OpenAIServer(lambda body: letters([1.0], 30), tokenize=lambda body: 30)
    client = LLMClient("http://scripted", transport=server.transport(), retries=0)
    weights = {"role_button": 3.0, "wm_nothing": -1.0}
    ranker = ActionRanker(tuple(weights), (0.0, 0.0), (1.0, 1.0), tuple(weights.values()), 0.0)
    judge = ChoiceJudge(client, ranker=ranker, ask=False)
    im = Imagination(StoppedForClicks(), judge, Proposer(client), "tick and submit.", OBS, [])
    out = asyncio.run(choice_select(im, judge, ROOTS, Keys(0), Budget(),
                                    imagine={"check('e4')", "click('e5')"}))
    assert out.action == "click('e5')" and out.stop_reason == "done" and not server.requests
    by = {n["answer"]: n for n in out.nodes}
    assert [bool(by[a]["info"].get("not_imagined")) for _, a in ROOTS] == [False, True, True]
    assert by["check('e4')"]["text"] == "changed by check('e4')"
    asking = ChoiceJudge(client)
    im = Imagination(StoppedForClicks(), asking, Proposer(client), "tick and submit.", OBS, [])
    out = asyncio.run(choice_select(im, asking, ROOTS, Keys(0), Budget()))
    assert out.action is None and out.stop_reason == "budget"
