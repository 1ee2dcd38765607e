"""Step-score aggregation, the generative verifier, and the PRM adapter's HTTP contract.

The fake PRM server implements vLLM's `/pooling` contract (vllm/entrypoints/pooling/pooling/
protocol.py): a PoolingChatRequest {model, messages, task} answered by a PoolingResponse
{id, object: "list", created, model, data: [{index, object: "pooling", data: rows}], usage},
where a step-pooled PRM gives one [P(bad), P(good)] row per step token.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from tests.fakes.math_llm import ScriptedLLM
from tests.fakes.openai_server import Answer, Failure, OpenAIServer, Pooled, Reply, Sample, Token
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.errors import MalformedResponse, RequestRejected
from worldplan.worldmodel.llm.generation import CallRecord
from worldplan.worldmodel.math.prompts import solver_messages
from worldplan.worldmodel.math.verifier import GenerativeVerifier, PRMVerifier, aggregate


@pytest.mark.parametrize("how, expected", [("last", 0.5), ("min", 0.2), ("prod", 0.08),
                                           ("mean", 0.5)])
def test_aggregate(how: str, expected: float) -> None:
    assert aggregate([0.8, 0.2, 0.5], how) == pytest.approx(expected)


def test_aggregate_edge_cases() -> None:
    assert aggregate([], "min") is None
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate([0.5], "max")


def test_generative_verifier_continues_the_solutions_conversation() -> None:
    fake = ScriptedLLM(lambda *_: "", judge=lambda prompt: 0.3 if "so far" in prompt else 0.9)
    client = LLMClient("http://fake", transport=fake.transport())
    budget = Budget(max_generations=2)
    v = GenerativeVerifier(client)
    partial = asyncio.run(v.judge("Q", ["step 1"], complete=False, budget=budget,
                                  equivalents=1))
    full = asyncio.run(v.judge("Q", ["step 1", "\\boxed{2}"], complete=True, budget=budget,
                               equivalents=1))
    assert partial.scores == [pytest.approx(0.3)] and full.scores == [pytest.approx(0.9)]
    assert budget.spent_generations == 2 and budget.spent_completion_tokens == 2
    asked = fake.requests[1]["messages"]
    assert asked[:2] == solver_messages("Q")  # the solver's own prompt, then its answer
    assert asked[2] == {"role": "assistant", "content": "step 1\n\n\\boxed{2}"}
    assert asked[3]["role"] == "user" and "Yes or No" in asked[3]["content"]
    assert fake.requests[0]["max_tokens"] == 1 and fake.requests[0]["logprobs"] is True


def test_no_yes_no_answer_is_no_verdict_not_a_silent_half() -> None:
    maybe = Token("Maybe", -0.01, (("Maybe", -0.01), ("Perhaps", -5.0), ("No", -9.0)))
    fake = OpenAIServer(lambda _b: Reply([Sample("Maybe", "length", 1, (maybe,))], 10))
    client = LLMClient("http://fake", transport=fake.transport())
    j = asyncio.run(GenerativeVerifier(client).judge("Q", ["a"], complete=True))
    assert j.scores == [] and j.calls == 1 and j.usage.completion_tokens == 1
    assert "no verdict" in j.detail and "mass 0.0001" in j.detail and "'Maybe'" in j.detail


class FakePRM(OpenAIServer):
    """vLLM's /pooling for a step-pooled PRM: P(good) of each step = 0.9, 0.2, 0.6, ..."""

    def __init__(self, probs: list[float] | None = None, status: int = 200) -> None:
        super().__init__(self.pool, model="prm")
        self.probs = probs or [0.9, 0.2, 0.6, 0.7, 0.4]
        self.status = status

    def pool(self, body: dict[str, Any]) -> Answer:
        if self.status == 404:  # a server without the pooling runner
            return Failure("404")
        n = body["messages"][-1]["content"].count("<extra_0>")
        return Pooled([[1 - p, p] for p in self.probs[:n]], prompt_tokens=40)


def test_prm_adapter_against_the_pooling_contract() -> None:
    fake = FakePRM()
    records: list[CallRecord] = []
    with fake.serve() as url:
        prm = PRMVerifier(LLMClient(url, observers=[records.append]))
        budget = Budget(max_generations=0)  # a PRM generates nothing
        j = asyncio.run(prm.judge("What is 1+1?", ["1+1 = 2", "so \\boxed{2}", "done"],
                                  complete=True, budget=budget))
    assert j.scores == [pytest.approx(0.9), pytest.approx(0.2), pytest.approx(0.6)]
    assert math.isclose(aggregate(j.scores, "min") or 0, 0.2)
    assert (j.equivalents, j.calls, j.usage.prompt_tokens) == (0, 1, 40)
    body = fake.requests[0]
    assert body["model"] == "prm" and body["task"] == "token_classify"
    assert body["messages"][1] == {"role": "user", "content": "What is 1+1?"}
    assert body["messages"][2]["content"] == "1+1 = 2<extra_0>so \\boxed{2}<extra_0>done<extra_0>"
    assert records[0].endpoint == "pooling" and records[0].params["n"] == 0
    assert budget.spent_generations == 0


def test_prm_adapter_errors_are_clear() -> None:
    with FakePRM(status=404).serve() as url:
        with pytest.raises(RequestRejected, match="--runner pooling"):
            asyncio.run(PRMVerifier(LLMClient(url, "prm")).judge("Q", ["a"], complete=True))
    with FakePRM(probs=[0.5]).serve() as url:  # fewer rows than steps
        with pytest.raises(MalformedResponse, match="2 steps"):
            asyncio.run(PRMVerifier(LLMClient(url, "prm")).judge("Q", ["a", "b"],
                                                                  complete=True))
