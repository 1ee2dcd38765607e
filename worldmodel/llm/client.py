"""One async client for OpenAI-compatible servers (vLLM first), with exact accounting.

`LLMClient.chat` and `LLMClient.complete` send one request (n samples), and return a typed
`Generation`: the choices, the server's own usage figures, latency (seconds) and a FLOPs
estimate. Every call is drawn from a `Budget` if one is given, and reported to the client's
observers as a `CallRecord` (the trace store is one such observer).

Handled: n samples, temperature, top_p, seed, stop strings, logprobs / top_logprobs, vLLM's
prompt_logprobs, several server URLs (least-loaded first; a dead one is skipped), bounded
concurrency, retries with exponential backoff on transient failures (connection errors,
timeouts, 429 and 5xx), and typed errors that name the URL.
Not handled: streaming, tool calls, images; the result types are in worldmodel.llm.generation
and the reading of the server's JSON in worldmodel.llm.parsing.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Sequence
from typing import Any

import httpx

from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.errors import (
    ContextLengthExceeded,
    LLMError,
    MalformedResponse,
    RequestRejected,
    ServerError,
    ServerUnreachable,
)
from worldplan.worldmodel.llm.generation import CallRecord, Generation, Observer, Role
from worldplan.worldmodel.llm.parsing import error_message, is_context_error, parse_generation

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": text}

_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}


class LLMClient:
    """Async client of one model served at one or more OpenAI-compatible URLs.

    Args:
        urls: base URLs such as "http://127.0.0.1:8000" (with or without "/v1").
        model: the served model name; None asks the first server (`/v1/models`).
        n_params: parameter count for FLOPs estimates; None leaves FLOPs unknown.
        max_concurrency: requests in flight at once from this client.
        timeout_s: per-request timeout (seconds); connection timeout is min(10, timeout_s).
        retries: extra attempts on transient failures; backoff doubles from `backoff_s`.
        transport: an httpx transport: a scripted fake server (tests), or stored answers in
            front of the server (traces.resume); `self.transport`, read at the first request
            in each event loop.
    """

    def __init__(
        self,
        urls: str | Sequence[str],
        model: str | None = None,
        *,
        n_params: int | None = None,
        max_concurrency: int = 16,
        timeout_s: float = 600.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
        observers: Sequence[Observer] = (),
    ) -> None:
        url_list = [urls] if isinstance(urls, str) else list(urls)
        if not url_list:
            raise ValueError("at least one server URL is needed")
        self.urls = [_base_url(u) for u in url_list]
        self.model = model
        self.n_params = n_params
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.observers: list[Observer] = list(observers)
        self.transport = transport
        self._in_flight = {u: 0 for u in self.urls}
        self._per_loop: dict[asyncio.AbstractEventLoop,
                            tuple[httpx.AsyncClient, asyncio.Semaphore]] = {}

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
        extra: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
    ) -> Generation:
        """Chat completion with n samples. `extra` passes vLLM's own fields through."""
        body: dict[str, Any] = {"messages": list(messages)}
        if logprobs:
            body["logprobs"] = True
            if top_logprobs:
                body["top_logprobs"] = top_logprobs
        return await self._request(
            "chat", body, json.dumps(list(messages), ensure_ascii=False), role=role, n=n,
            max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed, stop=stop,
            budget=budget, extra=extra, tags=tags,
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
            extra=extra, tags=tags,
        )

    async def served_model(self) -> str:
        """The model name the server serves (cached after the first ask)."""
        if self.model is None:
            client, _ = self._loop_state()
            url = self.urls[0]
            try:
                r = await client.get(f"{url}/v1/models")
                r.raise_for_status()
                self.model = str(r.json()["data"][0]["id"])
            except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError,
                    RecursionError) as e:
                raise ServerUnreachable(
                    f"cannot read the served model from {url}/v1/models: {e!r}", url=url
                ) from e
        return self.model

    async def aclose(self) -> None:
        for client, _ in self._per_loop.values():
            await client.aclose()
        self._per_loop.clear()

    # ---- internals --------------------------------------------------------------------

    def _loop_state(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        """httpx clients and semaphores belong to one event loop: keep one pair per loop.

        Keyed by the loop object itself (an id can be reused by a later loop once the first
        is gone), and pairs of closed loops are dropped.
        """
        loop = asyncio.get_running_loop()
        for other in [lp for lp in self._per_loop if lp.is_closed()]:
            del self._per_loop[other]
        if loop not in self._per_loop:
            timeout = httpx.Timeout(self.timeout_s, connect=min(10.0, self.timeout_s))
            client = httpx.AsyncClient(timeout=timeout, transport=self.transport)
            self._per_loop[loop] = (client, asyncio.Semaphore(self.max_concurrency))
        return self._per_loop[loop]

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
        extra: dict[str, Any] | None,
        tags: dict[str, Any] | None,
    ) -> Generation:
        model = await self.served_model()
        reservation = budget.reserve(n, max_tokens) if budget is not None else None
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
        started = time.time()
        t0 = time.perf_counter()
        gen: Generation | None = None
        url = self.urls[0]
        try:
            url, data = await self._post_with_retries(f"/v1/{_path(endpoint)}", payload)
            gen = parse_generation(endpoint, data, url=url, model=model, n=n, max_tokens=max_tokens,
                         latency_s=time.perf_counter() - t0, n_params=self.n_params)
            return gen
        except LLMError as e:
            self._notify(CallRecord(role, endpoint, e.url, model, prompt_text, params, None,
                                    f"{type(e).__name__}: {e}", time.perf_counter() - t0,
                                    started, dict(tags or {})))
            raise
        finally:
            if reservation is not None and budget is not None:
                budget.settle(reservation, gen.usage if gen else None)
            if gen is not None:
                self._notify(CallRecord(role, endpoint, url, model, prompt_text, params, gen,
                                        None, gen.latency_s, started, dict(tags or {})))

    def _notify(self, record: CallRecord) -> None:
        for observer in self.observers:
            observer(record)

    def _pick_url(self, tried: set[str]) -> str:
        candidates = [u for u in self.urls if u not in tried] or self.urls
        return min(candidates, key=lambda u: self._in_flight[u])

    async def _post_with_retries(self, path: str, payload: dict[str, Any]) -> tuple[str, Any]:
        client, sem = self._loop_state()
        tried: set[str] = set()
        last: LLMError | None = None
        async with sem:
            for attempt in range(self.retries + 1):
                url = self._pick_url(tried)
                self._in_flight[url] += 1
                try:
                    r = await client.post(url + path, json=payload)
                except httpx.TimeoutException as e:
                    last = ServerUnreachable(
                        f"timed out after {self.timeout_s:g} s waiting for {url}{path} "
                        f"({type(e).__name__})", url=url)
                    tried.add(url)
                except httpx.TransportError as e:
                    last = ServerUnreachable(
                        f"cannot reach the model server at {url} ({type(e).__name__}: {e}); "
                        "is it running? start one with `worldplan serve`", url=url)
                    tried.add(url)
                else:
                    if r.status_code == 200:
                        try:
                            return url, r.json()
                        except (ValueError, RecursionError) as e:  # not JSON, or too deep
                            raise MalformedResponse(
                                f"{url}{path} answered 200 with a body that is not JSON: "
                                f"{r.text[:200]!r}", url=url) from e
                    message = error_message(r)
                    if r.status_code in _TRANSIENT_STATUS:
                        last = ServerError(f"{url}{path} answered {r.status_code}: {message}",
                                           url=url, status=r.status_code)
                    else:
                        cls = (ContextLengthExceeded if is_context_error(message)
                               else RequestRejected)
                        raise cls(f"{url}{path} rejected the request ({r.status_code}): "
                                  f"{message}", url=url, status=r.status_code)
                finally:
                    self._in_flight[url] -= 1
                if attempt < self.retries:
                    delay = self.backoff_s * (2**attempt) * (1 + 0.25 * random.random())
                    await asyncio.sleep(delay)
        assert last is not None
        raise last


def _base_url(url: str) -> str:
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _path(endpoint: str) -> str:
    return "chat/completions" if endpoint == "chat" else "completions"
