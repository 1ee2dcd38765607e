"""What the budgets and the search rely on, checked against the real vLLM server: /tokenize
counts a prompt exactly as the completion's usage does (chat, and a continued assistant
message); n seeded samples of one request differ; a stop string is reported as vLLM's
stop_reason and the end of sequence as none; a verifier question that continues the
solution's conversation finds the solution in the prefix cache; and a prefix-cache reset
makes the next identical call cold."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.serving import reset_prefix_cache
from worldplan.worldmodel.math.prompts import CONTINUE, continuation, solver_messages
from worldplan.worldmodel.math.verifier import GenerativeVerifier

PROBLEM = "What is the sum of the first 20 positive odd integers? Explain each step."


@pytest.mark.server
def test_tokenize_counts_what_the_completion_bills(llm_server: Any) -> None:
    client = LLMClient(llm_server.url, llm_server.model, n_params=llm_server.n_params)
    messages, extra = continuation(PROBLEM, ["First, list the odd integers: 1, 3, 5."])

    async def go() -> list[tuple[int, int]]:
        out = []
        for msgs, ext in ((solver_messages(PROBLEM), {}), (messages, extra)):
            counted = await client.count_prompt("chat", {"messages": msgs}, ext)
            budget = Budget(max_tokens=counted + 8)
            gen = await client.chat(msgs, max_tokens=64, extra=ext, budget=budget)
            assert gen.max_tokens == 8  # the budget left 8 tokens after the counted prompt
            out.append((counted, gen.usage.prompt_tokens))
        await client.aclose()
        return out

    for counted, billed in asyncio.run(go()):
        assert counted == billed
    assert extra == CONTINUE


@pytest.mark.server
def test_seeded_samples_differ_and_stops_are_reported(llm_server: Any) -> None:
    client = LLMClient(llm_server.url, llm_server.model)

    async def go() -> Any:
        many = await client.chat(solver_messages(PROBLEM), n=4, max_tokens=24, seed=7,
                                 temperature=1.0)
        stepped = await client.chat(solver_messages(PROBLEM), n=4, max_tokens=200, seed=3,
                                    temperature=0.7, stop=["\n\n"])
        await client.aclose()
        return many, stepped

    many, stepped = asyncio.run(go())
    assert len(set(many.texts)) > 1  # one request, n samples, one seed: not n copies
    for c in stepped.choices:
        if c.finish_reason == "stop":
            assert c.stop_reason in ("\n\n", None)
            assert c.ended == (c.stop_reason is None)
    assert any(c.stop_reason == "\n\n" for c in stepped.choices)


@pytest.mark.server
def test_a_verifier_continuing_the_conversation_hits_the_prefix_cache(
        llm_server: Any) -> None:
    client = LLMClient(llm_server.url, llm_server.model)
    verifier = GenerativeVerifier(client, min_mass=0.0)

    async def go() -> Any:
        messages = solver_messages(PROBLEM)
        gen = await client.chat(messages, max_tokens=96, temperature=0.0)
        j = await verifier.judge(PROBLEM, [gen.text], complete=True, asked=messages)
        await client.aclose()
        return j

    j = asyncio.run(go())
    assert j.usage.cached_tokens is not None
    assert j.usage.cached_tokens >= 0.5 * j.usage.prompt_tokens, j.usage


@pytest.mark.server
def test_a_reset_prefix_cache_makes_the_next_call_cold(llm_server: Any) -> None:
    client = LLMClient(llm_server.url, llm_server.model)
    # long enough to fill whole cache blocks (the CPU backend's blocks are large)
    facts = " ".join(f"Fact {i}: {i} squared is {i * i}." for i in range(60))
    messages = solver_messages(f"{facts} {PROBLEM}")

    async def go() -> tuple[int, bool, int]:
        await client.chat(messages, max_tokens=1, temperature=0.0)
        warm = await client.chat(messages, max_tokens=1, temperature=0.0)
        reset = reset_prefix_cache(llm_server.url)
        cold = await client.chat(messages, max_tokens=1, temperature=0.0)
        await client.aclose()
        return warm.usage.cached_tokens or 0, reset, cold.usage.cached_tokens or 0

    warm, reset, cold = asyncio.run(go())
    assert warm > 0 and reset and cold == 0
    assert not reset_prefix_cache("http://127.0.0.1:9")  # nothing there: False, no raise
