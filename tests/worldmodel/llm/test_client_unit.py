"""Client control flow against a scripted fake server: retries, timeouts, errors, budgets."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.fakes.openai_server import OpenAIServer
from tests.fakes.scripted_server import FakeServer
from worldplan.worldmodel.llm.accounting import Budget, BudgetExceeded
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.connect import served_name
from worldplan.worldmodel.llm.errors import (
    ContextLengthExceeded,
    MalformedResponse,
    RequestRejected,
    ServerError,
    ServerUnreachable,
)
from worldplan.worldmodel.llm.generation import CallRecord
from worldplan.worldmodel.llm.yesno import p_yes

MSG = [{"role": "user", "content": "hi"}]


def make(fake: FakeServer, **kw) -> tuple[LLMClient, list[CallRecord]]:
    seen: list[CallRecord] = []
    client = LLMClient("http://fake:1/v1", transport=fake.transport(), backoff_s=0.001,
                       observers=[seen.append], n_params=1000, **kw)
    return client, seen


def test_retries_transient_errors_then_succeeds() -> None:
    fake = FakeServer(script=["500", "429", "timeout"])
    client, seen = make(fake, retries=3)
    gen = asyncio.run(client.chat(MSG, n=2, max_tokens=16))
    assert gen.texts == ["answer 0", "answer 1"]
    assert len(fake.requests) == 4
    assert [r.error for r in seen] == [None]  # one call record: the call that succeeded


def test_gives_up_after_retries_and_names_the_url() -> None:
    fake = FakeServer(script=["connect"] * 5)
    client, seen = make(fake, retries=2)
    with pytest.raises(ServerUnreachable, match="http://fake:1") as e:
        asyncio.run(client.chat(MSG))
    assert e.value.url == "http://fake:1"
    assert len(fake.requests) == 3
    assert seen[-1].error and "ServerUnreachable" in seen[-1].error


def test_timeout_is_reported_as_unreachable_after_retries() -> None:
    fake = FakeServer(script=["timeout"] * 3)
    client, _ = make(fake, retries=1)
    with pytest.raises(ServerUnreachable, match="timed out"):
        asyncio.run(client.chat(MSG))
    assert len(fake.requests) == 2


def test_server_error_status_after_retries() -> None:
    fake = FakeServer(script=["503"] * 3)
    client, _ = make(fake, retries=2)
    with pytest.raises(ServerError) as e:
        asyncio.run(client.chat(MSG))
    assert e.value.status == 503


def test_context_length_is_not_retried() -> None:
    fake = FakeServer(script=["400ctx"])
    client, _ = make(fake, retries=3)
    with pytest.raises(ContextLengthExceeded, match="maximum context length"):
        asyncio.run(client.chat(MSG))
    assert len(fake.requests) == 1


@pytest.mark.parametrize("action", ["garbage", "nousage"])
def test_malformed_response(action: str) -> None:
    client, seen = make(FakeServer(script=[action]))
    with pytest.raises(MalformedResponse, match="fake:1"):
        asyncio.run(client.complete("x"))
    assert seen[-1].generation is None


def test_unreachable_real_socket_names_the_url() -> None:
    from worldplan.worldmodel.llm.serving import free_port

    port = free_port()  # nothing listens there
    client = LLMClient(f"http://127.0.0.1:{port}", model="m", retries=1, backoff_s=0.01,
                       timeout_s=5)
    with pytest.raises(ServerUnreachable, match=f"127.0.0.1:{port}"):
        asyncio.run(client.chat(MSG))


def test_real_timeout_against_a_silent_socket() -> None:
    import socket

    with socket.socket() as s:  # accepts connections (backlog) but never answers
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        port = s.getsockname()[1]
        client = LLMClient(f"http://127.0.0.1:{port}", model="m", retries=0, timeout_s=0.5)
        with pytest.raises(ServerUnreachable, match="timed out"):
            asyncio.run(client.chat(MSG))


def test_accounting_and_flops() -> None:
    fake = FakeServer()
    client, seen = make(fake)
    gen = asyncio.run(client.chat(MSG, n=3, max_tokens=100))
    assert gen.usage.prompt_tokens == 11 and gen.usage.completion_tokens == 21
    assert gen.flops == 2 * 1000 * (11 + 21)
    assert seen[0].generation is gen and seen[0].params["n"] == 3


def test_async_with_closes_the_loops_pools_and_counts_tokens() -> None:
    fake = FakeServer()
    client, _ = make(fake)
    spent = Budget()

    async def go() -> bool:
        async with client as c:
            await c.chat(MSG, n=1, max_tokens=16, budget=spent)
            opened = bool(client._per_loop)
        return opened

    assert asyncio.run(go()) and not client._per_loop  # open inside, closed on leaving
    assert spent.token_counts() == {"prompt": spent.spent_prompt_tokens, "cached": 0,
                                    "completion": spent.spent_completion_tokens}
    assert spent.token_counts()["prompt"] == 11


def test_budget_is_drawn_down_and_clamps_max_tokens() -> None:
    """Tokens are uncached prompt + completion: a call reserves its prompt (counted by the
    server's /tokenize, once per prompt) plus n x max_tokens, clamped to what is left."""
    fake = FakeServer()
    client, _ = make(fake)
    budget = Budget(max_generations=5, max_tokens=42)
    gen = asyncio.run(client.chat(MSG, n=2, max_tokens=100, budget=budget))
    assert fake.requests[0]["max_tokens"] == 15  # (42 - 11 prompt) // 2 samples
    assert gen.max_tokens == 15
    assert budget.spent_generations == 2 and budget.spent_tokens == 11 + 14
    assert budget.tokens_left == 17 and budget.generations_left == 3
    # (17 - 11) left for 3 samples: 2 each
    asyncio.run(client.chat(MSG, n=3, max_tokens=100, budget=budget))
    assert fake.requests[1]["max_tokens"] == 2
    assert budget.spent_tokens == 42 and budget.tokens_left == 0
    assert fake.tokenized == 1  # the same prompt is counted once
    with pytest.raises(BudgetExceeded) as e:
        asyncio.run(client.chat(MSG, budget=budget))
    assert e.value.unit == "generations" or e.value.unit == "tokens"
    assert len(fake.requests) == 2  # nothing was sent


def test_cached_prompt_tokens_are_free_in_tokens_and_flops() -> None:
    fake = FakeServer(cached_tokens=8)
    client, _ = make(fake)
    budget = Budget(max_tokens=1000, max_flops=1e9)
    gen = asyncio.run(client.chat(MSG, n=2, max_tokens=5, budget=budget))
    assert gen.usage.uncached_prompt_tokens == 3 and gen.usage.completion_tokens == 10
    assert budget.spent_tokens == 13 and budget.spent_cached_tokens == 8
    assert gen.flops == budget.spent_flops == 2 * 1000 * 13


def test_a_flops_budget_clamps_and_refuses() -> None:
    fake = FakeServer()
    client, _ = make(fake)
    budget = Budget(max_flops=2 * 1000 * 20)  # 20 tokens of a 1000-parameter model
    asyncio.run(client.chat(MSG, n=1, max_tokens=100, budget=budget))
    assert fake.requests[0]["max_tokens"] == 9  # 20 - 11 prompt tokens
    assert budget.spent_flops == 2 * 1000 * (11 + 7) <= budget.max_flops
    with pytest.raises(BudgetExceeded, match="flops"):
        asyncio.run(client.chat(MSG, budget=budget))
    with pytest.raises(ValueError, match="parameter count"):
        asyncio.run(LLMClient("http://fake", transport=fake.transport()).chat(
            MSG, budget=Budget(max_flops=1e9)))


def test_equivalents_are_what_the_caller_says_a_call_is_worth() -> None:
    fake = FakeServer()
    client, seen = make(fake)
    budget = Budget(max_generations=2)
    asyncio.run(client.chat(MSG, n=2, budget=budget))  # 2 samples: 2 by default
    asyncio.run(client.chat(MSG, n=4, budget=budget, equivalents=0))  # a later beam round
    assert budget.spent_generations == 2 and [r.equivalents for r in seen] == [2, 0]
    with pytest.raises(BudgetExceeded):
        asyncio.run(client.chat(MSG, budget=budget))


def test_a_token_budget_needs_tokenize() -> None:
    fake = FakeServer()
    fake.tokenize = None  # a server without /tokenize
    client, _ = make(fake)
    with pytest.raises(RequestRejected, match="token or FLOPs budget needs"):
        asyncio.run(client.chat(MSG, budget=Budget(max_tokens=100)))
    assert fake.requests == []


def test_budget_exceeded_in_generations_sends_nothing() -> None:
    fake = FakeServer()
    client, _ = make(fake)
    budget = Budget(max_generations=4)
    with pytest.raises(BudgetExceeded, match="5 generations requested, 4 left"):
        asyncio.run(client.chat(MSG, n=5, budget=budget))
    assert fake.requests == [] and budget.spent_generations == 0


def test_concurrent_calls_never_overdraw() -> None:
    fake = FakeServer()
    client, _ = make(fake, max_concurrency=4)
    budget = Budget(max_generations=10)

    async def go() -> list[object]:
        tasks = [client.chat(MSG, n=3, budget=budget) for _ in range(6)]
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(go())
    ok = [r for r in results if not isinstance(r, BaseException)]
    assert len(ok) == 3 and budget.spent_generations == 9
    assert all(isinstance(r, BudgetExceeded) for r in results if isinstance(r, BaseException))


def test_failed_call_charges_nothing() -> None:
    fake = FakeServer(script=["connect"] * 2)
    client, _ = make(fake, retries=1)
    budget = Budget(max_generations=3, max_tokens=30)
    with pytest.raises(ServerUnreachable):
        asyncio.run(client.chat(MSG, n=2, budget=budget))
    assert budget.spent_generations == 0 and budget.generations_left == 3
    assert budget.tokens_left == 30


def test_sub_budget_charges_parent() -> None:
    fake = FakeServer()
    client, _ = make(fake)
    parent = Budget(max_generations=8, max_tokens=50)
    probe = parent.child(max_generations=2)
    asyncio.run(client.chat(MSG, n=2, budget=probe))
    assert probe.spent_generations == 2 and parent.spent_generations == 2
    assert parent.spent_tokens == 11 + 14 and parent.reserved_tokens == 0
    with pytest.raises(BudgetExceeded):
        asyncio.run(client.chat(MSG, n=1, budget=probe))
    assert parent.generations_left == 6


def test_p_yes_from_top_logprobs() -> None:
    import math

    client, _ = make(FakeServer())
    yn = asyncio.run(p_yes(client, MSG))
    py, pn = math.exp(-0.1), math.exp(-2.4)
    assert yn.p_yes == pytest.approx(py / (py + pn))
    assert yn.mass == pytest.approx(py + pn)


def test_several_urls_skip_a_dead_one() -> None:
    calls: list[str] = []
    fake = FakeServer()

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.host)
        if request.url.host == "dead":
            raise httpx.ConnectError("down", request=request)
        return fake.handle(request)

    client = LLMClient(["http://dead:1", "http://alive:1"], model="fake",
                       transport=httpx.MockTransport(handler), backoff_s=0.001)
    gen = asyncio.run(client.chat(MSG))
    assert gen.url == "http://alive:1" and "dead" in calls


def test_concurrency_is_bounded() -> None:
    fake = FakeServer()
    state = {"now": 0, "peak": 0}

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v1/models"):
            return fake.handle(request)
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        await asyncio.sleep(0.02)
        state["now"] -= 1
        return fake.handle(request)

    client = LLMClient("http://fake:1", transport=httpx.MockTransport(handler),
                       max_concurrency=3)

    async def go() -> None:
        await asyncio.gather(*(client.chat(MSG) for _ in range(12)))

    asyncio.run(go())
    assert state["peak"] == 3 and len(fake.requests) == 12


def test_served_name_reads_the_models_list_and_none_when_nothing_answers() -> None:
    with OpenAIServer(lambda body: None, model="served-here").serve() as url:
        assert served_name(url) == "served-here"
    assert served_name(url) is None  # the server has stopped: no name, no exception
