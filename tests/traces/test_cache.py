"""CachedTransport: stored calls answer the client exactly, in order; misses are clear.

Control-flow tests against the scripted fake server (the real-server proof is
test_rerun_server.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.fakes.scripted_server import FakeServer
from tests.fakes.trace_db import call
from worldplan.agent.runs.rerun import cached_client
from worldplan.traces.cache import CacheMiss
from worldplan.traces.engine import make_engine
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.errors import ContextLengthExceeded, ServerError
from worldplan.worldmodel.llm.generation import Generation

Q = [{"role": "user", "content": "Name a colour. « unicode »"}]


def _same(a: Generation, b: Generation) -> None:
    assert a.choices == b.choices  # texts, finish reasons, logprobs with their top tokens
    assert a.usage == b.usage and a.flops == b.flops and a.model == b.model
    assert a.max_tokens == b.max_tokens and a.prompt_logprobs == b.prompt_logprobs


def test_replayed_generations_equal_the_recorded_ones(tmp_path: Path) -> None:
    engine = make_engine(str(tmp_path / "t.db"))
    store = TraceStore(engine)
    run = store.start_run(kind="x", llm_urls=["http://fake"])
    live = LLMClient("http://fake", n_params=1000, transport=FakeServer().transport(),
                     observers=[store.observer(run)])

    async def calls(client: LLMClient) -> list[Generation]:
        out = [await client.chat(Q, n=3, max_tokens=5, temperature=0.7, logprobs=True,
                                 top_logprobs=3),
               await client.complete("2+2=", n=2, max_tokens=4, seed=3, stop=["\n"]),
               await client.chat(Q, n=1, max_tokens=9, extra={"min_p": 0.1})]
        await client.aclose()
        return out

    original = asyncio.run(calls(live))
    replay_client, cache = cached_client(engine, run)
    replayed = asyncio.run(calls(replay_client))
    for a, b in zip(original, replayed, strict=True):
        _same(a, b)
    assert cache.remaining() == 0 and len(cache.served) == 3


def test_identical_requests_are_answered_in_the_order_they_were_made(tmp_path: Path) -> None:
    engine = make_engine(str(tmp_path / "t.db"))
    store = TraceStore(engine)
    run = store.start_run(kind="x")
    msgs = [{"role": "user", "content": "Say a word."}]
    for text in ("first", "second", "third"):  # the same request, sampled three times
        call(store, run, None, json.dumps(msgs, ensure_ascii=False), [text], 4, 1)
    client, _ = cached_client(engine, run)

    async def go(times: int) -> list[str]:
        return [(await client.chat(msgs, max_tokens=64, temperature=0.0)).text
                for _ in range(times)]

    assert asyncio.run(go(3)) == ["first", "second", "third"]
    with pytest.raises(CacheMiss, match="asked more often than it was stored"):
        asyncio.run(go(1))


def test_stored_failures_replay_as_the_same_failures(tmp_path: Path) -> None:
    engine = make_engine(str(tmp_path / "t.db"))
    store = TraceStore(engine)
    run = store.start_run(kind="x")
    fake = FakeServer(script=["400ctx", "503", "503"])
    live = LLMClient("http://fake", transport=fake.transport(), retries=1, backoff_s=0.0,
                     observers=[store.observer(run)])

    async def calls(client: LLMClient) -> list[str]:
        out = []
        for max_tokens in (5, 6):
            try:
                await client.chat(Q, max_tokens=max_tokens)
            except (ContextLengthExceeded, ServerError) as e:
                out.append(type(e).__name__)
        await client.aclose()
        return out

    assert asyncio.run(calls(live)) == ["ContextLengthExceeded", "ServerError"]
    client, _ = cached_client(engine, run)
    assert asyncio.run(calls(client)) == ["ContextLengthExceeded", "ServerError"]


def test_a_request_not_in_the_cache_names_itself(tmp_path: Path) -> None:
    engine = make_engine(str(tmp_path / "t.db"))
    run = TraceStore(engine).start_run(kind="x", model="m")
    client, cache = cached_client(engine, run)
    with pytest.raises(CacheMiss, match="never stored.*Unknown question"):
        asyncio.run(client.chat([{"role": "user", "content": "Unknown question"}], max_tokens=3))
    assert len(cache.misses) == 1
