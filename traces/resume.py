"""Resuming a run without asking the model server again what it already answered.

A run killed mid-episode has stored some of that episode's LLM calls. When the run resumes
and continues the episode (under the same episode id), the same requests come again (same
prompts, parameters and seeds); they must be answered from the trace, not sent again, and
not stored twice.

`StoredAnswers.load(engine, run_id, episode_ids, done)` reads the calls stored under those
episodes, less the first `done[episode]` answered ones: an episode resumed from a checkpoint
(the web agent) does not run its earlier steps again, and their answers must not answer an
identical request of a later step (a page that did not change asks the same question).
`ReplayTransport(answers, inner)` is an httpx transport for `LLMClient`, put in front of
each client's own transport for a block by `replaying(clients, answers)` (before the
clients' first request in that block's event loop): a request made while episode E is
current (traces.store.current_episode) whose cache key (traces.store.call_cache_key,
computed from the request as traces.cache does) has a stored, unused call of E is answered
with that call's response (identical requests of an episode in the order they were first
made); anything else goes to `inner`, the real server. A stored answer comes back after the
event loop has run the other ready tasks (as a real answer would), so that strategies that
take seeds in the order their requests go out take the same seeds as the first time. Each
replayed call is marked, and `TraceStore.recording(..., replayed=answers)` skips the
client's record of it.

Stored failures: a rejected request (HTTP 400: `RequestRejected`, `ContextLengthExceeded`)
is replayed as the same rejection, since asking again gets the same answer; transient
failures (server errors, an unreachable server, a malformed body) are asked again.
Not handled: streaming, requests made outside any
episode (asked again).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
from sqlalchemy.engine import Engine

from worldplan.traces.cache import StoredCall, request_key, stored_calls, stored_response
from worldplan.traces.store import current_episode
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.transport import FastTransport

REPLAYED_ERRORS = ("RequestRejected", "ContextLengthExceeded")  # deterministic rejections


def replayable(call: StoredCall) -> bool:
    """An answer, or a rejection the server would repeat (not a transient failure)."""
    return not call.error or call.error.partition(":")[0] in REPLAYED_ERRORS


@dataclass
class StoredAnswers:
    """Stored calls by (episode id, cache key), each key's calls in the order made."""

    queues: dict[tuple[int | None, str], deque[StoredCall]]
    replayed: Counter[tuple[int | None, str]] = field(default_factory=Counter)  # not yet seen
    served: int = 0  # calls answered from the trace
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, engine: Engine, run_id: int, episode_ids: Iterable[int],
             done: Mapping[int, int] | None = None) -> StoredAnswers:
        """The calls stored under `episode_ids`, but for the first `done[episode]` answered
        ones of an episode (and the failures among them): those of the steps a resumed
        episode does not run again (before its last checkpoint). An identical request of a
        later step must not take their answers."""
        queues: dict[tuple[int | None, str], deque[StoredCall]] = defaultdict(deque)
        passed: Counter[int | None] = Counter()
        for c in stored_calls(engine, run_id, episode_ids):
            if passed[c.episode_id] < (done or {}).get(c.episode_id or -1, 0):
                passed[c.episode_id] += not c.error
                continue
            if replayable(c):
                queues[(c.episode_id, c.cache_key)].append(c)
        return cls(dict(queues))

    def remaining(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def take(self, episode_id: int | None, key: str) -> StoredCall | None:
        """The next stored call of this episode and key (marked replayed), or None."""
        with self._lock:
            q = self.queues.get((episode_id, key))
            if not q:
                return None
            self.replayed[(episode_id, key)] += 1
            self.served += 1
            return q.popleft()

    def consume(self, episode_id: int | None, key: str) -> bool:
        """Whether a call of this episode and key was replayed (and not yet recorded as
        such): the recorder skips it."""
        with self._lock:
            if self.replayed[(episode_id, key)] <= 0:
                return False
            self.replayed[(episode_id, key)] -= 1
            return True


class ReplayTransport(httpx.AsyncBaseTransport):
    """Stored answers first, the real server (`inner`) for everything else."""

    def __init__(self, answers: StoredAnswers, inner: httpx.AsyncBaseTransport) -> None:
        self.answers, self.inner = answers, inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.rstrip("/")
        episode = current_episode.get()
        if (request.method == "POST" and episode is not None
                and path.endswith(("/chat/completions", "/completions", "/pooling"))):
            try:
                payload = json.loads(await request.aread())
            except ValueError:
                payload = None
            if isinstance(payload, dict):
                _, key, _ = request_key(path, payload)
                call = self.answers.take(episode, key)
                if call is not None:
                    # answer after the loop has run the other ready tasks, as a server's
                    # answer would: strategies that number their requests in the order
                    # they go out (beam search's seeds) number them as they did before
                    await asyncio.sleep(0)
                    return stored_response(call, request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@contextmanager
def replaying(clients: Iterable[LLMClient], answers: StoredAnswers) -> Iterator[None]:
    """Answer the clients' requests from `answers` first while the block runs (each client
    once, however often given); their transports are restored after it."""
    if answers.remaining() == 0:  # nothing stored to answer from: the clients as they are
        yield
        return
    unique = list({id(c): c for c in clients}.values())
    before = [c.transport for c in unique]
    for c in unique:
        c.transport = ReplayTransport(answers, c.transport or FastTransport(c.max_concurrency))
    try:
        yield
    finally:
        for c, t in zip(unique, before, strict=True):
            c.transport = t
