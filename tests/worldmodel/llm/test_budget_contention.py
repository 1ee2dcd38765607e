"""Calls in flight together under one token budget: a call that fits only once the others'
worst-case reservations are released waits for them instead of failing or being clamped."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes.openai_server import OpenAIServer, Reply, Sample
from worldplan.worldmodel.llm.accounting import Budget, BudgetExceeded
from worldplan.worldmodel.llm.client import LLMClient


def server(prompt_tokens: int, cached: int) -> OpenAIServer:
    def answer(body: dict) -> Reply:
        return Reply([Sample("ok", "stop", 2)] * int(body.get("n", 1)), prompt_tokens,
                     cached_tokens=cached)
    return OpenAIServer(answer, tokenize=lambda body: prompt_tokens)


def test_concurrent_calls_wait_for_each_others_reservations() -> None:
    # each call reserves 100 prompt + 10 tokens but is charged 10 uncached + 2: the budget
    # of 150 holds one worst case at a time, and all four calls fit once run one by one
    srv = server(100, 90)
    client = LLMClient("http://s", transport=srv.transport(), retries=0)
    budget = Budget(max_tokens=150)

    async def go() -> list[int]:
        gens = await asyncio.gather(*[client.chat([{"role": "user", "content": "hi"}],
                                                  max_tokens=10, budget=budget)
                                      for _ in range(4)])
        return [len(g.choices) for g in gens]

    assert asyncio.run(go()) == [1, 1, 1, 1]
    assert budget.spent_tokens == 4 * 12 <= 150
    assert budget.reserved_tokens == 0
    # no call was clamped below its max_tokens by another's reservation
    assert all(r["max_tokens"] == 10 for r in srv.requests)


def test_a_call_that_can_never_fit_still_fails_at_once() -> None:
    srv = server(100, 0)
    client = LLMClient("http://s", transport=srv.transport(), retries=0)
    budget = Budget(max_tokens=50)
    with pytest.raises(BudgetExceeded):
        asyncio.run(client.chat([{"role": "user", "content": "hi"}], max_tokens=10,
                                budget=budget))
    assert srv.requests == []  # refused before sending
