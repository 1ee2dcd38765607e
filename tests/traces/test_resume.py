"""Stored answers on resume (traces.resume): a request of an episode whose answer is stored
is answered from the trace and not stored again; anything else reaches the server; stored
rejections replay, transient failures are asked again."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlmodel import Session, select

from tests.fakes.scripted_server import FakeServer
from worldplan.traces.engine import make_engine
from worldplan.traces.resume import StoredAnswers, replaying
from worldplan.traces.schema import LLMCall
from worldplan.traces.store import TraceStore, current_episode
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.errors import ContextLengthExceeded, LLMError

Q = [{"role": "user", "content": "q"}]


async def ask(client: LLMClient, episode: int) -> str:
    token = current_episode.set(episode)
    try:
        gen = await client.chat(Q, max_tokens=8, seed=1)
        return gen.texts[0]
    finally:
        current_episode.reset(token)


def calls(store: TraceStore) -> list[tuple[int | None, str]]:
    with Session(store.engine) as s:
        return [(c.episode_id, c.error.partition(":")[0])
                for c in s.exec(select(LLMCall).order_by(LLMCall.id))]  # type: ignore[arg-type]


def test_stored_answers_are_per_episode_and_not_stored_again(tmp_path: Path) -> None:
    store = TraceStore(make_engine(str(tmp_path / "t.db")))
    run = store.start_run(kind="math")
    a, b = (store.start_episode(run, task_id=t) for t in ("a", "b"))
    first = FakeServer()
    client = LLMClient("http://fake", model="fake", transport=first.transport())
    with store.recording(run, client):
        asyncio.run(ask(client, a))  # stored under a only
    server = FakeServer()
    own = server.transport()
    client = LLMClient("http://fake", model="fake", transport=own)
    answers = StoredAnswers.load(store.engine, run, [a, b])

    async def resumed() -> None:
        await ask(client, a)  # stored: from the trace
        await ask(client, a)  # asked more often than stored: the server
        await ask(client, b)  # the same request in another episode: the server
        await client.aclose()

    with replaying([client, client], answers), store.recording(run, client, replayed=answers):
        asyncio.run(resumed())
    assert len(server.requests) == 2 and answers.served == 1 and answers.remaining() == 0
    assert calls(store) == [(a, ""), (a, ""), (b, "")]
    assert client.transport is own  # the client's own transport is back


def test_rejections_replay_and_transient_failures_are_asked_again(tmp_path: Path) -> None:
    store = TraceStore(make_engine(str(tmp_path / "t.db")))
    run = store.start_run(kind="math")
    a, b = (store.start_episode(run, task_id=t) for t in ("a", "b"))
    for ep, script in ((a, ["400ctx"]), (b, ["503"])):
        client = LLMClient("http://fake", model="fake", retries=0,
                           transport=FakeServer(script).transport())
        with store.recording(run, client):
            try:
                asyncio.run(ask(client, ep))
            except LLMError:
                pass
    assert calls(store) == [(a, "ContextLengthExceeded"), (b, "ServerError")]
    server = FakeServer()
    client = LLMClient("http://fake", model="fake", retries=0, transport=server.transport())
    answers = StoredAnswers.load(store.engine, run, [a, b])

    async def resumed() -> str:
        try:
            await ask(client, a)
        except ContextLengthExceeded:
            pass
        else:
            raise AssertionError("the stored rejection was not replayed")
        return await ask(client, b)

    with replaying([client], answers), store.recording(run, client, replayed=answers):
        assert asyncio.run(resumed()) == "answer 0"
    assert len(server.requests) == 1  # only the transient failure was asked again
    assert calls(store) == [(a, "ContextLengthExceeded"), (b, "ServerError"), (b, "")]
