"""The choice judge (worldmodel.web.choice_judge): letters read from one token's top
logprobs, normalised over the options; an answer that is no letter is refused, not guessed;
its prompt shares the page head with the other roles and is told apart as the verifier's.
Several orders of the options undo a judge's preference for a letter. And the yes/no
judge's "next" mode asks about the next action, not progress."""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.openai_server import OpenAIServer, letters, yes_no
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.generation import TokenLogprob
from worldplan.worldmodel.llm.yesno import NoVerdict
from worldplan.worldmodel.web.choice_judge import (
    choose,
    letter_probabilities,
    orderings,
    with_targets,
)
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


@given(st.integers(1, 16), st.integers(1, 40))
def test_orderings_are_distinct_permutations_as_many_as_asked_or_exist(k: int, m: int) -> None:
    got = orderings(k, m)
    assert got[0] == list(range(k))
    assert all(sorted(o) == list(range(k)) for o in got)
    assert len({tuple(o) for o in got}) == len(got)
    exist = math.factorial(k) if k < 3 else 2 * k  # rotations and their reverses
    assert len(got) == min(m, exist)
    if m >= 2 and k >= 2:
        assert got[1] == list(range(k))[::-1]


def _biased(body: dict) -> object:
    """A judge that prefers letter A whatever it stands for, and check() a little."""
    shown = [ln for ln in body["messages"][-1]["content"].splitlines() if ln[1:3] == ". "]
    return letters([(0.5 if ln[0] == "A" else 0.1) + (0.35 if "check(" in ln else 0.0)
                    for ln in shown], 30)


def test_two_orders_undo_a_letter_preference() -> None:
    server = OpenAIServer(_biased)
    client = LLMClient("http://scripted", transport=server.transport(), retries=0)
    options = [("noop()", ""), ("check('e6')", "")]
    once = asyncio.run(choose(client, "g", OBS, options))
    assert once.scores[0] > once.scores[1]  # the letter wins with one order
    twice = asyncio.run(choose(client, "g", OBS, options, orders=2))
    assert len(server.requests) == 3  # one more call per order
    assert server.requests[2]["messages"][-1]["content"].count("A. check('e6')") == 1
    assert twice.scores[1] > twice.scores[0] and sum(twice.scores) == pytest.approx(1.0)
    assert twice.per_order[0] == pytest.approx(once.scores)  # mapped back to the given order
    assert twice.per_order[1] == pytest.approx([0.1 / 0.95, 0.85 / 0.95])
    with pytest.raises(ValueError, match="m >= 1"):
        orderings(2, 0)


def test_an_order_answered_with_no_letter_is_left_out_and_all_of_them_raise() -> None:
    replies = iter([letters([0.2, 0.8], 30), yes_no(0.9, 30), yes_no(0.9, 30),
                    yes_no(0.9, 30)])
    server = OpenAIServer(lambda body: next(replies))
    client = LLMClient("http://scripted", transport=server.transport(), retries=0)
    options = [("noop()", ""), ("check('e6')", "")]
    got = asyncio.run(choose(client, "g", OBS, options, orders=2))
    assert got.scores == pytest.approx([0.2, 0.8]) and len(got.per_order) == 1
    with pytest.raises(NoVerdict):
        asyncio.run(choose(client, "g", OBS, options, orders=2))


def test_targets_show_each_actions_element_beside_it() -> None:
    obs = OBS.replace(">>>", "- button \"Submit\" [cursor=pointer] [ref=e7]\n>>>")
    got = with_targets(obs, [("check('e6')", ""), ("click('e7')", "- dialog"),
                             ("noop()", ""), ("click('e99')", ""), ("bogus(", "")])
    assert got == [("check('e6') on checkbox \"HF2\" [checked]", ""),
                   ("click('e7') on button \"Submit\"", "- dialog"),
                   ("noop()", ""), ("click('e99')", ""), ("bogus(", "")]
    server = OpenAIServer(lambda body: letters([0.3, 0.7], 30))
    client = LLMClient("http://scripted", transport=server.transport(), retries=0)
    asyncio.run(choose(client, "g", obs, [("check('e6')", ""), ("click('e7')", "")],
                       targets=True))
    assert "B. click('e7') on button \"Submit\"\n" in server.requests[0]["messages"][-1]["content"]
