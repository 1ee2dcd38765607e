"""The choice judge (worldmodel.web.choice_judge): letters read from one token's top
logprobs, normalised over the options; an answer that is no letter is refused, not guessed;
its prompt shares the page head with the other roles and is told apart as the verifier's.
And the yes/no judge's "next" mode asks about the next action, not progress."""

from __future__ import annotations

import asyncio
import math

import pytest

from tests.fakes.openai_server import OpenAIServer, letters, yes_no
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.generation import TokenLogprob
from worldplan.worldmodel.llm.yesno import NoVerdict
from worldplan.worldmodel.web.choice_judge import choose, letter_probabilities
from worldplan.worldmodel.web.prompts import (
    CHOICE_LETTERS,
    JUDGE_NEXT_TASK,
    choice_messages,
    context,
    progress_messages,
    proposer_messages,
    role_of_messages,
)
from worldplan.worldmodel.web.world_model import ProgressVerifier

OBS = "GOAL: tick HF2 and submit.\nPAGE:\n<<<\n- checkbox \"HF2\" [checked] [ref=e6]\n>>>"


def test_letters_are_read_and_normalised() -> None:
    tok = TokenLogprob("B", math.log(0.6), {"B": math.log(0.6), " A": math.log(0.2),
                                            "C.": math.log(0.1), "c": math.log(0.05),
                                            "Yes": math.log(0.05)})
    p, mass = letter_probabilities(tok, 2)  # C is not an option here; lower case is no letter
    assert p == pytest.approx([0.25, 0.75]) and mass == pytest.approx(0.8)
    p3, _ = letter_probabilities(tok, 3)
    assert p3 == pytest.approx([0.2 / 0.9, 0.6 / 0.9, 0.1 / 0.9])
    none, zero = letter_probabilities(TokenLogprob("Yes", 0.0, {"Yes": 0.0}), 4)
    assert none == [0.25] * 4 and zero == 0.0


def test_choose_asks_once_and_refuses_an_answer_that_is_no_letter() -> None:
    replies = iter([letters([0.1, 0.7, 0.2], 50), yes_no(0.9, 50)])
    server = OpenAIServer(lambda body: next(replies))
    client = LLMClient("http://scripted", transport=server.transport(), retries=0)
    options = [("check('e6')", ""), ("click('e7')", "- button gone"), ("noop()", "")]
    got = asyncio.run(choose(client, "tick HF2 and submit.", OBS, options))
    assert got.scores == pytest.approx([0.1, 0.7, 0.2]) and got.mass == pytest.approx(1.0)
    body = server.requests[0]
    assert body["max_tokens"] == 1 and body["logprobs"] and body["top_logprobs"] >= 16
    asked = body["messages"][-1]["content"]
    assert "A. check('e6')\nB. click('e7') -> - button gone\nC. noop()" in asked
    with pytest.raises(NoVerdict, match="letter mass"):
        asyncio.run(choose(client, "tick HF2 and submit.", OBS, options))


def test_the_choice_prompt_is_the_verifiers_and_shares_the_head() -> None:
    msgs = choice_messages("tick HF2 and submit.", OBS, [("noop()", "")], ["check('e6')"])
    assert role_of_messages(msgs) == "verifier"
    assert msgs[1]["content"].startswith(context(OBS, ["check('e6')"]))
    assert proposer_messages(OBS, ["check('e6')"])[1]["content"].startswith(
        context(OBS, ["check('e6')"]))
    with pytest.raises(ValueError, match="1-16 options"):
        choice_messages("g", OBS, [("noop()", "")] * (len(CHOICE_LETTERS) + 1))
    with pytest.raises(ValueError, match="1-16 options"):
        choice_messages("g", OBS, [])


def test_the_next_mode_asks_about_the_next_action() -> None:
    msgs = progress_messages("g", OBS, [("click('e7')", "")], next_action=True)
    assert msgs[1]["content"].endswith(JUDGE_NEXT_TASK)
    assert role_of_messages(msgs) == "verifier"
    server = OpenAIServer(lambda body: yes_no(0.3, 40))
    client = LLMClient("http://scripted", transport=server.transport(), retries=0)
    j = asyncio.run(ProgressVerifier(client, "next").score("g", OBS, [[("click('e7')", "")]]))
    assert j.score == pytest.approx(0.3)
    assert server.requests[0]["messages"][-1]["content"].endswith(JUDGE_NEXT_TASK)
    with pytest.raises(ValueError, match="p_yes, next or label"):
        ProgressVerifier(client, "vibes")
