"""The LLM-call half of the trace writer: one row per call, the client's observer.

`CallWriter` (extended by traces.store.TraceStore) stores a `CallRecord` as an `LLMCall` row
(`call_row`) in one short transaction, or, inside `batching()`, through a writer thread that
commits rows in batches (traces.batching; `flush()` waits for them), under the run and the
current episode (`current_episode`, a context variable, so concurrent asyncio episodes each
record their own calls), and keys it by `call_cache_key(endpoint, model, prompt, params)`:
what `rerun --from-cache` (traces.cache) and a resumed run (traces.resume) look stored
answers up by. Calls that a resumed run answered from the trace (`Replayed`) are not stored
a second time.
Not handled: runs, episodes and steps (traces.store).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session

from worldplan.traces.batching import BatchWriter, insert_rows
from worldplan.traces.schema import LLMCall
from worldplan.worldmodel.llm.generation import CallRecord

current_episode: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "worldplan_current_episode", default=None)


class Observed(Protocol):
    """Anything whose calls are reported to observers (LLMClient, PRMVerifier)."""

    observers: list[Callable[[CallRecord], None]]


class Replayed(Protocol):
    """Calls answered from the trace on resume (traces.resume.StoredAnswers): not stored
    again."""

    def consume(self, episode_id: int | None, key: str) -> bool: ...

    def remaining(self) -> int: ...


def call_cache_key(endpoint: str, model: str, prompt: str, params: dict[str, Any]) -> str:
    """A stable key for a request: what `rerun --from-cache` looks stored answers up by."""
    blob = json.dumps([endpoint, model, prompt, params], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def call_row(item: tuple[CallRecord, int | None, int | None]) -> dict[str, Any]:
    """The LLMCall columns of (a call, its run id, its episode id)."""
    rec, run_id, episode_id = item
    gen = rec.generation
    extra: dict[str, Any] = {}
    if gen is not None and any(c.logprobs for c in gen.choices):
        extra["logprobs"] = [
            [[t.token, t.logprob, t.top] for t in (c.logprobs or [])] for c in gen.choices]
    if gen is not None and any(c.stop_reason is not None for c in gen.choices):
        extra["stop_reasons"] = [c.stop_reason for c in gen.choices]
    if gen is not None and gen.pooled is not None:
        extra["pooled"] = gen.pooled
    if gen is not None and gen.prompt_logprobs is not None:
        extra["prompt_logprobs"] = [
            None if t is None else [t.token, t.logprob, t.top] for t in gen.prompt_logprobs]
    return dict(
        run_id=run_id, episode_id=episode_id, role=rec.role, endpoint=rec.endpoint,
        url=rec.url, model=rec.model, prompt=rec.prompt,
        completions=gen.texts if gen else [],
        finish_reasons=[c.finish_reason for c in gen.choices] if gen else [],
        params=rec.params, extra=extra, n=int(rec.params.get("n", 1)),
        prompt_tokens=gen.usage.prompt_tokens if gen else 0,
        completion_tokens=gen.usage.completion_tokens if gen else 0,
        cached_tokens=gen.usage.cached_tokens if gen else None,
        latency_s=rec.latency_s, flops=gen.flops if gen else None, error=rec.error or "",
        cache_key=call_cache_key(rec.endpoint, rec.model, rec.prompt, rec.params),
        tags=rec.tags if rec.equivalents is None else {**rec.tags,
                                                       "equivalents": rec.equivalents},
        started_at=rec.started_at)


class CallWriter:
    """Stores LLM calls (the engine is set by TraceStore)."""

    engine: Engine

    _batch: BatchWriter | None = None

    def record_call(self, rec: CallRecord, *, run_id: int | None,
                    episode_id: int | None = None) -> None:
        """Store the call now, or queue it for the writer thread inside `batching()`."""
        if self._batch is not None:
            self._batch.put((rec, run_id, episode_id))
            return
        with Session(self.engine) as s:
            insert_rows(s, LLMCall, [call_row((rec, run_id, episode_id))])
            s.commit()

    def flush(self) -> None:
        """Wait until every queued call is stored (nothing to do outside `batching()`)."""
        if self._batch is not None:
            self._batch.flush()

    @contextmanager
    def batching(self) -> Iterator[None]:
        """Calls recorded in this block are written by a thread, in batches; the block's
        end (and `flush`) waits for them."""
        if self._batch is not None:  # already batching: one writer
            yield
            return
        self._batch = BatchWriter(self.engine, LLMCall, call_row)
        try:
            yield
        finally:
            batch, self._batch = self._batch, None
            batch.close()

    def observer(self, run_id: int | None, replayed: Replayed | None = None
                 ) -> Callable[[CallRecord], None]:
        """An LLMClient observer that stores every call under the current episode, except
        those `replayed` answered from the trace (they are stored already)."""
        if replayed is not None and replayed.remaining() == 0:
            replayed = None  # nothing to answer from: no call is ever skipped

        def observe(rec: CallRecord) -> None:
            episode_id = current_episode.get()
            if replayed is not None and replayed.consume(
                    episode_id, call_cache_key(rec.endpoint, rec.model, rec.prompt, rec.params)):
                return
            self.record_call(rec, run_id=run_id, episode_id=episode_id)

        return observe

    @contextmanager
    def recording(self, run_id: int, *sources: Observed,
                  replayed: Replayed | None = None) -> Iterator[None]:
        """Store every call of `sources` (LLM clients, the PRM verifier: anything with an
        `observers` list) under `run_id` and the current episode while the block runs; a
        source given twice is observed once; calls `replayed` answered are not stored
        again."""
        observer = self.observer(run_id, replayed)
        unique = [s for i, s in enumerate(sources) if all(s is not o for o in sources[:i])]
        for s in unique:
            s.observers.append(observer)
        try:
            yield
        finally:
            for s in unique:
                s.observers.remove(observer)
