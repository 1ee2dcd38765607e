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
from tests.fakes.openai_server import Answer, Failure, OpenAIServer, Pooled
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.errors import MalformedResponse, RequestRejected
from worldplan.worldmodel.llm.generation import CallRecord
from worldplan.worldmodel.math.verifier import GenerativeVerifier, PRMVerifier, aggregate


@pytest.mark.parametrize("how, expected", [("last", 0.5), ("min", 0.2), ("prod", 0.08),
                                           ("mean", 0.5)])
def test_aggregate(how: str, expected: float) -> None:
    assert aggregate([0.8, 0.2, 0.5], how) == pytest.approx(expected)


def test_aggregate_edge_cases() -> None:
    assert aggregate([], "min") is None
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate([0.5], "max")


def test_generative_verifier_reads_p_yes_and_spends_one_generation() -> None:
    fake = ScriptedLLM(lambda *_: "", judge=lambda prompt: 0.3 if "so far" in prompt else 0.9)
    client = LLMClient("http://fake", transport=fake.transport())
    budget = Budget(max_generations=2)
    v = GenerativeVerifier(client)
    partial = asyncio.run(v.judge("Q", ["step 1"], complete=False, budget=budget))
    full = asyncio.run(v.judge("Q", ["step 1", "\\boxed{2}"], complete=True, budget=budget))
    assert partial.scores == [pytest.approx(0.3)] and full.scores == [pytest.approx(0.9)]
    assert budget.spent_generations == 2 and budget.spent_tokens == 2
    assert fake.requests[0]["max_tokens"] == 1 and fake.requests[0]["logprobs"] is True


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
        prm = PRMVerifier(url, observers=[records.append])
        budget = Budget(max_generations=0, max_tokens=0)  # a PRM generates nothing
        j = asyncio.run(prm.judge("What is 1+1?", ["1+1 = 2", "so \\boxed{2}", "done"],
                                  complete=True, budget=budget))
    assert j.scores == [pytest.approx(0.9), pytest.approx(0.2), pytest.approx(0.6)]
    assert math.isclose(aggregate(j.scores, "min") or 0, 0.2)
    assert (j.generations, j.calls, j.usage.prompt_tokens) == (0, 1, 40)
    body = fake.requests[0]
    assert body["model"] == "prm" and body["task"] == "token_classify"
    assert body["messages"][1] == {"role": "user", "content": "What is 1+1?"}
    assert body["messages"][2]["content"] == "1+1 = 2<extra_0>so \\boxed{2}<extra_0>done<extra_0>"
    assert records[0].endpoint == "pooling" and records[0].params["n"] == 0
    assert budget.spent_generations == 0


def test_prm_adapter_errors_are_clear() -> None:
    with FakePRM(status=404).serve() as url:
        with pytest.raises(RequestRejected, match="--runner pooling"):
            asyncio.run(PRMVerifier(url, "prm").judge("Q", ["a"], complete=True))
    with FakePRM(probs=[0.5]).serve() as url:  # fewer rows than steps
        with pytest.raises(MalformedResponse, match="2 steps"):
            asyncio.run(PRMVerifier(url, "prm").judge("Q", ["a", "b"], complete=True))
