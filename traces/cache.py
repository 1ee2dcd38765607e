"""Exact re-execution: an httpx transport that answers LLM requests from stored calls.

`CallCache.from_run(engine, run_id)` loads a run's `LLMCall` rows; `CachedTransport(cache)`
is given to `LLMClient(transport=...)`. Each request is turned back into the (endpoint,
model, prompt, params) that `LLMClient` recorded, keyed by `traces.store.call_cache_key`,
and answered with the stored response: the n completions, finish reasons, logprobs, prompt
logprobs and usage, so the client builds the same `Generation` (/pooling rows and stop
reasons included; a budget's /tokenize is answered with a stored call's prompt tokens).
Identical requests (same key) are answered in the order they were first made (stored calls
are ordered by start time), which makes sampled calls (temperature > 0, no seed) replay
exactly. An answer comes back after the event loop has run the other ready tasks, as a
server's would, so a strategy that numbers its requests (seeds) in the order they go out
numbers them as in the recorded run (beam search did not, answered at once).
Stored failures are replayed as the same kind of failure: 400 for a
rejected request (context length included), 503 for a server error, a connection error for
an unreachable server, a non-JSON body for a malformed response.

A request that is not in the cache (or asked more often than it was stored) raises
`CacheMiss`, a plain RuntimeError that the client does not retry, naming the request.
Use the client with `retries=0`: one stored call answers one HTTP request.
Not handled: streaming; requests whose `extra` fields shadow body fields (logprobs...).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.engine import Engine

from worldplan.traces.schema import LLMCall
from worldplan.traces.store import call_cache_key

BODY_KEYS = {"chat": ("messages", "logprobs", "top_logprobs"),
             "completions": ("prompt", "logprobs", "prompt_logprobs"),
             "pooling": ("messages",)}


class CacheMiss(RuntimeError):
    """A request that the stored calls cannot answer."""


@dataclass(frozen=True)
class StoredCall:
    id: int
    endpoint: str
    model: str
    cache_key: str
    completions: list[str]
    finish_reasons: list[str | None]
    extra: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int | None
    error: str
    episode_id: int | None = None
    prompt: str = ""


def stored_calls(engine: Engine, run_id: int,
                 episode_ids: Iterable[int] | None = None) -> list[StoredCall]:
    """A run's stored calls (only those of `episode_ids` if given), in the order made."""
    t = LLMCall.__table__  # type: ignore[attr-defined]
    q = select(t.c.id, t.c.endpoint, t.c.model, t.c.cache_key, t.c.completions,
               t.c.finish_reasons, t.c.extra, t.c.prompt_tokens, t.c.completion_tokens,
               t.c.cached_tokens, t.c.error, t.c.prompt, t.c.params, t.c.episode_id
               ).where(t.c.run_id == run_id).order_by(t.c.started_at, t.c.id)
    if episode_ids is not None:
        q = q.where(t.c.episode_id.in_(list(episode_ids)))
    with engine.connect() as c:
        rows = c.execute(q).all()
    return [StoredCall(
        id=r[0], endpoint=r[1], model=r[2],
        cache_key=r[3] or call_cache_key(r[1], r[2], r[11] or "", r[12] or {}),
        completions=list(r[4] or []), finish_reasons=list(r[5] or []), extra=r[6] or {},
        prompt_tokens=r[7], completion_tokens=r[8], cached_tokens=r[9], error=r[10] or "",
        episode_id=r[13], prompt=r[11] or "") for r in rows]


@dataclass
class CallCache:
    """Stored calls by cache key, each key's calls in the order they were made."""

    queues: dict[str, deque[StoredCall]]
    model: str = ""
    prompt_counts: dict[str, int] = field(default_factory=dict)  # prompt -> its tokens
    served: list[int] = field(default_factory=list)  # ids of the stored calls used, in order
    misses: list[str] = field(default_factory=list)  # a line per request not found

    @classmethod
    def from_calls(cls, calls: Iterable[StoredCall]) -> CallCache:
        queues: dict[str, deque[StoredCall]] = defaultdict(deque)
        models: Counter[str] = Counter()
        counts: dict[str, int] = {}
        for c in calls:
            queues[c.cache_key].append(c)
            models[c.model] += 1
            if not c.error and c.prompt:
                counts[c.prompt] = c.prompt_tokens
        return cls(dict(queues), models.most_common(1)[0][0] if models else "", counts)

    @classmethod
    def from_run(cls, engine: Engine, run_id: int) -> CallCache:
        return cls.from_calls(stored_calls(engine, run_id))

    def remaining(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def take(self, key: str, describe: str) -> StoredCall:
        q = self.queues.get(key)
        if not q:
            why = "asked more often than it was stored" if q is not None else "never stored"
            msg = f"request not in the trace cache ({why}): {describe}"
            self.misses.append(msg)
            raise CacheMiss(msg)
        call = q.popleft()
        self.served.append(call.id)
        return call


def request_key(path: str, payload: dict[str, Any]) -> tuple[str, str, str]:
    """(endpoint, cache key, description) of a request as LLMClient sent it."""
    if path.endswith("/chat/completions"):
        endpoint = "chat"
    elif path.endswith("/completions"):
        endpoint = "completions"
    elif path.endswith("/pooling"):
        endpoint = "pooling"
    else:
        raise CacheMiss(f"the trace cache answers chat, completions and pooling requests, "
                        f"not {path}")
    params = dict(payload)
    model = str(params.pop("model", ""))
    body = {k: params.pop(k) for k in BODY_KEYS[endpoint] if k in params}
    prompt = prompt_text(endpoint, body)
    key = call_cache_key(endpoint, model, prompt, params)
    short = prompt if len(prompt) < 200 else prompt[:200] + "..."
    return endpoint, key, f"{endpoint} model={model!r} params={params} prompt={short!r}"


def prompt_text(endpoint: str, body: dict[str, Any]) -> str:
    """The prompt as LLMClient records it: the messages as JSON, or the text."""
    if endpoint == "completions":
        return str(body.get("prompt"))
    return json.dumps(body.get("messages"), ensure_ascii=False)


def _chat_logprobs(tokens: list[Any]) -> dict[str, Any]:
    return {"content": [
        {"token": t, "logprob": lp,
         "top_logprobs": [{"token": k, "logprob": v} for k, v in (top or {}).items()]}
        for t, lp, top in tokens]}


def _completion_logprobs(tokens: list[Any]) -> dict[str, Any]:
    return {"tokens": [t for t, _, _ in tokens], "token_logprobs": [lp for _, lp, _ in tokens],
            "top_logprobs": [top or {} for _, _, top in tokens]}


def _prompt_logprobs(stored: list[Any]) -> list[Any]:
    """Back to vLLM's per-position {id: {logprob, decoded_token, rank}} (own token first)."""
    out: list[Any] = []
    for pos in stored:
        if pos is None:
            out.append(None)
            continue
        token, logprob, top = pos
        ranked = list((top or {}).items())
        entry = {"0": {"logprob": logprob, "decoded_token": token,
                       "rank": next((i + 1 for i, (k, _) in enumerate(ranked) if k == token),
                                    len(ranked) + 1)}}
        for i, (k, v) in enumerate(ranked):
            if k != token:
                entry[str(i + 1)] = {"logprob": v, "decoded_token": k, "rank": i + 1}
        out.append(entry)
    return out


def response_body(call: StoredCall) -> dict[str, Any]:
    """The OpenAI-compatible JSON that makes LLMClient rebuild the stored Generation."""
    lps = call.extra.get("logprobs")
    stops = call.extra.get("stop_reasons") or []
    choices = []
    for i, text in enumerate(call.completions):
        fr = call.finish_reasons[i] if i < len(call.finish_reasons) else None
        lp = lps[i] if lps and i < len(lps) else None
        sr = stops[i] if i < len(stops) else None
        if call.endpoint == "chat":
            choices.append({"index": i, "message": {"role": "assistant", "content": text},
                            "finish_reason": fr, "stop_reason": sr,
                            "logprobs": _chat_logprobs(lp) if lp is not None else None})
        else:
            choices.append({"index": i, "text": text, "finish_reason": fr, "stop_reason": sr,
                            "logprobs": _completion_logprobs(lp) if lp is not None else None})
    usage: dict[str, Any] = {"prompt_tokens": call.prompt_tokens,
                             "completion_tokens": call.completion_tokens,
                             "total_tokens": call.prompt_tokens + call.completion_tokens}
    if call.cached_tokens is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": call.cached_tokens}
    body: dict[str, Any] = {"object": "replayed", "model": call.model, "choices": choices,
                            "usage": usage}
    if call.endpoint == "pooling":
        body["data"] = [{"index": 0, "data": call.extra.get("pooled") or []}]
    if call.extra.get("prompt_logprobs") is not None:
        body["prompt_logprobs"] = _prompt_logprobs(call.extra["prompt_logprobs"])
    return body


def stored_response(call: StoredCall, request: httpx.Request) -> httpx.Response:
    """The HTTP answer (or the transport error) that replays a stored call."""
    if call.error:
        return _error_response(call, request)
    return httpx.Response(200, json=response_body(call), request=request)


def _error_response(call: StoredCall, request: httpx.Request) -> httpx.Response:
    kind, _, message = call.error.partition(": ")
    if kind == "ServerUnreachable":
        raise httpx.ConnectError(f"replayed from the trace: {message}", request=request)
    if kind == "MalformedResponse":
        return httpx.Response(200, text="replayed malformed response", request=request)
    status = 503 if kind == "ServerError" else 400
    return httpx.Response(status, json={"error": {"message": message}}, request=request)


class CachedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that serves a `CallCache` instead of a model server."""

    def __init__(self, cache: CallCache) -> None:
        self.cache = cache

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.rstrip("/")
        if request.method == "GET" and path.endswith("/v1/models"):
            return httpx.Response(200, json={"object": "list", "data": [
                {"id": self.cache.model, "object": "model"}]}, request=request)
        try:
            payload = json.loads(await request.aread())
        except ValueError as e:
            raise CacheMiss(f"the trace cache cannot read the request to {path}: {e}") from e
        if path.endswith("/tokenize"):  # a budget counting a prompt: the stored count
            prompt = prompt_text("chat" if "messages" in payload else "completions", payload)
            if prompt not in self.cache.prompt_counts:
                raise CacheMiss(f"no stored call has this prompt to count: {prompt[:200]!r}")
            return httpx.Response(200, json={"count": self.cache.prompt_counts[prompt]},
                                  request=request)
        _, key, describe = request_key(path, payload)
        call = self.cache.take(key, describe)
        await asyncio.sleep(0)  # as a server would: the other ready requests go out first
        return stored_response(call, request)
