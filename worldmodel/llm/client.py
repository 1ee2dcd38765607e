"""One async client for OpenAI-compatible servers (vLLM first), with exact accounting.

`LLMClient.chat` and `LLMClient.complete` send one request (n samples), `LLMClient.pool`
one /pooling request (a PRM's step scores, or an embedding); each returns a typed
`Generation`: the choices (or pooled rows), the server's own usage figures, latency
(seconds) and a FLOPs estimate. Every call is drawn from a `Budget` if one is given (with
`equivalents`, what the call is worth in generation-equivalents) and reported to the
client's observers as a `CallRecord` (the trace store is one such observer). A token or
FLOPs budget needs the prompt's token count before the call: `count_prompt` asks the
server's /tokenize once per distinct prompt (worldmodel.llm.reserve waits out the worst
cases of calls in flight). Handled: n samples, temperature, top_p, seed, stop strings,
logprobs / top_logprobs, vLLM's prompt_logprobs and stop_reason; URLs, concurrency,
retries and typed errors are worldmodel.llm.connection's.
Not handled: streaming, tool calls, images; the result types are in worldmodel.llm.generation
and the reading of the server's JSON in worldmodel.llm.parsing.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from worldplan.worldmodel.llm.accounting import Budget, Reservation
from worldplan.worldmodel.llm.connection import Connection
from worldplan.worldmodel.llm.errors import (
    LLMError,
    MalformedResponse,
    RequestRejected,
    ServerUnreachable,
)
from worldplan.worldmodel.llm.generation import CallRecord, Generation, Observer, Role
from worldplan.worldmodel.llm.parsing import parse_generation, parse_pooling
from worldplan.worldmodel.llm.reserve import reserve_when_free

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": text}

PROMPT_COUNTS_KEPT = 8192  # prompts whose token count is remembered (LRU)


class LLMClient(Connection):
    """Async client of one model served at one or more OpenAI-compatible URLs.

    Args:
        urls: base URLs such as "http://127.0.0.1:8000" (with or without "/v1").
        model: the served model name; None asks the first server (`/v1/models`).
        n_params: parameter count for FLOPs estimates; None leaves FLOPs unknown.
        max_concurrency: requests in flight at once from this client.
        timeout_s: per-request timeout (seconds); connection timeout is min(10, timeout_s).
        retries: extra attempts on transient failures; backoff doubles from `backoff_s`.
        transport: an httpx transport (worldmodel.llm.connection).
    """

    def __init__(
        self,
        urls: str | Sequence[str],
        model: str | None = None,
        *,
        n_params: int | None = None,
        max_concurrency: int = 64,
        timeout_s: float = 600.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
        observers: Sequence[Observer] = (),
    ) -> None:
        super().__init__(urls, max_concurrency=max_concurrency, timeout_s=timeout_s,
                         retries=retries, backoff_s=backoff_s, transport=transport)
        self.model = model
        self.n_params = n_params
        self.observers: list[Observer] = list(observers)
        self._prompt_counts: OrderedDict[str, int] = OrderedDict()

    # ---- public API -------------------------------------------------------------------

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        role: Role = "proposer",
        n: int = 1,
        max_tokens: int = 512,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: Sequence[str] | None = None,
        logprobs: bool = False,
        top_logprobs: int | None = None,
        budget: Budget | None = None,
        equivalents: int | None = None,
        extra: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
    ) -> Generation:
        """Chat completion with n samples. `extra` passes vLLM's own fields through;
        `equivalents` is what the call is worth in generation-equivalents (default n)."""
        body: dict[str, Any] = {"messages": list(messages)}
        if logprobs:
            body["logprobs"] = True
            if top_logprobs:
                body["top_logprobs"] = top_logprobs
        return await self._request(
            "chat", body, json.dumps(list(messages), ensure_ascii=False), role=role, n=n,
            max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed, stop=stop,
            budget=budget, equivalents=equivalents, extra=extra, tags=tags,
        )

    async def complete(
        self,
        prompt: str,
        *,
        role: Role = "proposer",
        n: int = 1,
        max_tokens: int = 512,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: Sequence[str] | None = None,
        logprobs: int | None = None,
        prompt_logprobs: int | None = None,
        budget: Budget | None = None,
        equivalents: int | None = None,
        extra: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
    ) -> Generation:
        """Text completion with n samples; `prompt_logprobs` is vLLM's extension."""
        body: dict[str, Any] = {"prompt": prompt}
        if logprobs is not None:
            body["logprobs"] = logprobs
        if prompt_logprobs is not None:
            body["prompt_logprobs"] = prompt_logprobs
        return await self._request(
            "completions", body, prompt, role=role, n=n, max_tokens=max_tokens,
            temperature=temperature, top_p=top_p, seed=seed, stop=stop, budget=budget,
            equivalents=equivalents, extra=extra, tags=tags,
        )

    async def served_model(self) -> str:
        """The model name the server serves (cached after the first ask)."""
        if self.model is None:
            try:
                self.model = str((await self.get_json("/v1/models"))["data"][0]["id"])
            except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError,
                    RecursionError) as e:
                raise ServerUnreachable(f"cannot read the served model from {self.urls[0]}"
                                        f"/v1/models: {e!r}", url=self.urls[0]) from e
        return self.model

    async def count_prompt(self, endpoint: str, body: dict[str, Any],
                           extra: dict[str, Any] | None = None) -> int:
        """The prompt's exact token count, from the server's /tokenize (vLLM), remembered
        per prompt: a token or FLOPs budget must know a call's prompt before sending it."""
        template = {k: v for k, v in (extra or {}).items()
                    if k in ("add_generation_prompt", "continue_final_message")}
        req: dict[str, Any] = ({"messages": body["messages"], "add_generation_prompt": True}
                               if endpoint == "chat" else {"prompt": body["prompt"]})
        req.update(template)
        key = json.dumps(req, sort_keys=True, ensure_ascii=False)
        if key in self._prompt_counts:
            self._prompt_counts.move_to_end(key)
            return self._prompt_counts[key]
        try:
            url, data = await self.post("/tokenize", {"model": await self.served_model(), **req})
        except RequestRejected as e:
            raise RequestRejected(f"a token or FLOPs budget needs each prompt's token count "
                                  f"before the call, and {e.url}/tokenize answered {e}; is "
                                  "this a vLLM server?", url=e.url, status=e.status) from e
        try:
            count = int(data["count"])
        except (KeyError, TypeError, ValueError) as e:
            raise MalformedResponse(f"{url}/tokenize sent no token count: {str(data)[:200]}",
                                    url=url) from e
        self._prompt_counts[key] = count
        if len(self._prompt_counts) > PROMPT_COUNTS_KEPT:
            self._prompt_counts.popitem(last=False)
        return count

    async def _request(
        self,
        endpoint: str,
        body: dict[str, Any],
        prompt_text: str,
        *,
        role: Role,
        n: int,
        max_tokens: int,
        temperature: float,
        top_p: float,
        seed: int | None,
        stop: Sequence[str] | None,
        budget: Budget | None,
        equivalents: int | None,
        extra: dict[str, Any] | None,
        tags: dict[str, Any] | None,
    ) -> Generation:
        model = await self.served_model()
        reservation = await self._reserve(budget, endpoint, body, extra, n, max_tokens,
                                          equivalents)
        if reservation is not None:
            max_tokens = reservation.max_tokens
        params: dict[str, Any] = {
            "n": n, "max_tokens": max_tokens, "temperature": temperature, "top_p": top_p,
        }
        if seed is not None:
            params["seed"] = seed
        if stop:
            params["stop"] = list(stop)
        params.update(extra or {})
        payload = {"model": model, **body, **params}
        call = _Call(role, endpoint, model, prompt_text, params, dict(tags or {}),
                     n if equivalents is None else equivalents)
        return await self._send(call, f"/v1/{_path(endpoint)}", payload, budget, reservation,
                                lambda url, data, latency: parse_generation(
                                    endpoint, data, url=url, model=model, n=n,
                                    max_tokens=max_tokens, latency_s=latency,
                                    n_params=self.n_params))

    async def pool(self, messages: Sequence[Message], *, role: Role = "verifier",
                   task: str = "token_classify", budget: Budget | None = None,
                   equivalents: int = 0, tags: dict[str, Any] | None = None,
                   add_generation_prompt: bool = False) -> Generation:
        """vLLM's /pooling: a PRM's per-token rows (task token_classify) or an embedding
        (task embed); `Generation.pooled` holds the rows. Counted and budgeted as any call."""
        model = await self.served_model()
        body: dict[str, Any] = {"messages": list(messages)}
        extra = {"add_generation_prompt": add_generation_prompt}
        reservation = await self._reserve(budget, "chat", body, extra, 0, 1, equivalents)
        params: dict[str, Any] = {"n": 0, "task": task, **extra}
        call = _Call(role, "pooling", model, json.dumps(list(messages), ensure_ascii=False),
                     params, dict(tags or {}), equivalents)
        try:
            return await self._send(call, "/pooling", {"model": model, **body, **params},
                                    budget, reservation, lambda url, data, latency: parse_pooling(
                                        data, url=url, model=model, latency_s=latency,
                                        n_params=self.n_params))
        except RequestRejected as e:
            if e.status != 404:
                raise
            raise RequestRejected(f"{e.url}/pooling not found: is it served with --runner "
                                  "pooling (`worldplan serve --embed`, or a reward model)?",
                                  url=e.url, status=404) from e

    async def _reserve(self, budget: Budget | None, endpoint: str, body: dict[str, Any],
                       extra: dict[str, Any] | None, n: int, max_tokens: int,
                       equivalents: int | None) -> Reservation | None:
        if budget is None:
            return None
        counted = (await self.count_prompt(endpoint, body, extra)
                   if budget.needs_prompt_count else 0)
        return await reserve_when_free(budget, n, max_tokens, prompt_tokens=counted,
                                       equivalents=equivalents, n_params=self.n_params,
                                       timeout_s=self.timeout_s)

    async def _send(self, call: _Call, path: str, payload: dict[str, Any],
                    budget: Budget | None, reservation: Reservation | None,
                    parse: Callable[[str, Any, float], Generation]) -> Generation:
        """POST, parse, settle the budget, tell the observers (failed calls included)."""
        started = time.time()
        t0 = time.perf_counter()
        gen: Generation | None = None
        url = self.urls[0]
        try:
            url, data = await self.post(path, payload)
            gen = parse(url, data, time.perf_counter() - t0)
            return gen
        except LLMError as e:
            self._notify(CallRecord(call.role, call.endpoint, e.url, call.model, call.prompt,
                                    call.params, None, f"{type(e).__name__}: {e}",
                                    time.perf_counter() - t0, started, call.tags))
            raise
        finally:
            if reservation is not None and budget is not None:
                budget.settle(reservation, gen.usage if gen else None)
            if gen is not None:
                self._notify(CallRecord(call.role, call.endpoint, url, call.model, call.prompt,
                                        call.params, gen, None, gen.latency_s, started,
                                        call.tags, call.equivalents))

    def _notify(self, record: CallRecord) -> None:
        for observer in self.observers:
            observer(record)

@dataclass(frozen=True)
class _Call:
    """What the observers are told of a call, besides its answer."""
    role: Role
    endpoint: str
    model: str
    prompt: str
    params: dict[str, Any]
    tags: dict[str, Any]
    equivalents: int


def _path(endpoint: str) -> str:
    return "chat/completions" if endpoint == "chat" else "completions"
