"""The proposer: a greedy and sampled candidates, constrained to the page's legal actions,
merged by action, ranked by logprob, with their entropy; unreadable replies kept."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from tests.fakes.openai_server import OpenAIServer, Reply, Sample, Token
from worldplan.agent.web.proposer import Proposer
from worldplan.envs.web.observation import WebObservation
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient

TREE = '- textbox "Name" [ref=e2]\n- button "Submit" [ref=e3]'
OBS = WebObservation("Enter Bob and submit.", "http://127.0.0.1:9/form.html", TREE).to_prompt()


def sample(text: str, logprob: float) -> Sample:
    # two tokens sharing the logprob; a flat top-2 at the first token (entropy ln 2)
    toks = (Token(text[:3], logprob / 2, ((text[:3], -0.69), ("x", -0.69))),
            Token(text[3:], logprob / 2, ((text[3:], 0.0),)))
    return Sample(text, "stop", 2, toks)


def serve(greedy: str, sampled: list[tuple[str, float]]) -> tuple[OpenAIServer, LLMClient]:
    def answer(body: dict[str, Any]) -> Reply:
        if body["temperature"] == 0.0:
            return Reply([sample(greedy, -0.5)], 50)
        return Reply([sample(t, lp) for t, lp in sampled[: body["n"]]], 50, cached_tokens=45)
    srv = OpenAIServer(answer)
    return srv, LLMClient("http://s", transport=srv.transport(), retries=0)


def test_greedy_and_sampled_candidates_merge_and_rank_by_logprob() -> None:
    srv, client = serve('fill("e2", "Bob")', [('click("e3")', -3.0), ('fill("e2", "Bob")', -0.9),
                                              ("I think noop", -5.0)])
    props = asyncio.run(Proposer(client).propose(OBS, [], 4, budget=Budget()))
    assert [p.action for p in props] == ["fill('e2', 'Bob')", "click('e3')", None]
    fill = props[0]
    assert fill.count == 2 and fill.greedy and fill.logprob == -0.5
    assert props[1].count == 1 and not props[1].greedy
    assert props[2].error  # unreadable, kept with the parser's reason, ranked last
    assert fill.entropy is not None and 0.3 < fill.entropy < 0.4  # (ln 2 + 0) / 2
    # greedy first (temperature 0, one sample), then the rest sampled
    assert [(r["temperature"], r["n"]) for r in srv.requests] == [(0.0, 1), (0.8, 3)]


def test_requests_carry_the_pages_action_grammar() -> None:
    srv, client = serve('click("e3")', [])
    asyncio.run(Proposer(client).propose(OBS, [], 1, budget=Budget()))
    rx = srv.requests[0]["structured_outputs"]["regex"]
    assert re.fullmatch(rx, 'click("e3")') and not re.fullmatch(rx, 'click("e4")')
    srv, client = serve('click("e3")', [])
    asyncio.run(Proposer(client, constrained=False).propose(OBS, [], 1, budget=Budget()))
    assert "structured_outputs" not in srv.requests[0]


def test_a_revision_samples_every_candidate() -> None:
    from worldplan.worldmodel.web.prompts import PlannedAttempt

    srv, client = serve('click("e3")', [('fill("e2", "Bob")', -1.0)])
    asyncio.run(Proposer(client).propose(OBS, [], 1, budget=Budget(),
                                         attempts=[PlannedAttempt("click('e3')", "- x", 0.1)]))
    assert [(r["temperature"], r["n"]) for r in srv.requests] == [(0.8, 1)]
