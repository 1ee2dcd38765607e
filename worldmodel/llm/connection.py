"""One model server's HTTP side, shared by every call of an `LLMClient`: URLs (least-loaded
first; a dead one is skipped), bounded concurrency, retries with exponential backoff on
transient failures (connection errors, timeouts, 429 and 5xx), and typed errors that name
the URL (worldmodel.llm.errors).

httpx clients and semaphores belong to one event loop, so `Connection` keeps one pair per
loop. `transport` (a scripted fake server, or stored answers in front of the server,
traces.resume) is read at the first request in each event loop; without one, requests go
through aiohttp (worldmodel.llm.transport), about ten times cheaper in CPU than httpx's own
pool. Used as an async context manager, it closes its pools on leaving the block.
Not handled: what the requests say and what the answers mean (worldmodel.llm.client).
"""

from __future__ import annotations

import asyncio
import json
import random
import weakref
from collections.abc import Sequence
from typing import Any, Self

import httpx

from worldplan.worldmodel.llm.errors import (
    ContextLengthExceeded,
    LLMError,
    MalformedResponse,
    RequestRejected,
    ServerError,
    ServerUnreachable,
)
from worldplan.worldmodel.llm.parsing import error_message, is_context_error
from worldplan.worldmodel.llm.transport import FastTransport

_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}


class Connection:
    """URLs, concurrency, timeouts and retries of one served model."""

    def __init__(self, urls: str | Sequence[str], *, max_concurrency: int = 64,
                 timeout_s: float = 600.0, retries: int = 3, backoff_s: float = 0.5,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        url_list = [urls] if isinstance(urls, str) else list(urls)
        if not url_list:
            raise ValueError("at least one server URL is needed")
        self.urls = [_base_url(u) for u in url_list]
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.transport = transport
        self._in_flight = {u: 0 for u in self.urls}
        self._per_loop: dict[asyncio.AbstractEventLoop,
                             tuple[httpx.AsyncClient, asyncio.Semaphore]] = {}
        # pools a caller never closed are let go quietly when this goes, or at exit
        weakref.finalize(self, _abandon, self._per_loop)

    async def get_json(self, path: str) -> Any:
        """GET the first URL's `path` (no retries); httpx errors propagate."""
        client, _ = self._loop_state()
        r = await client.get(f"{self.urls[0]}{path}")
        r.raise_for_status()
        return r.json()

    async def aclose(self) -> None:
        for client, _ in self._per_loop.values():
            await client.aclose()
        self._per_loop.clear()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        """`async with connect(...) as client:` closes this loop's pools on the way out."""
        await self.aclose()

    def _loop_state(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        """httpx clients and semaphores belong to one event loop: keep one pair per loop.

        Keyed by the loop object itself (an id can be reused by a later loop once the first
        is gone), and pairs of closed loops are dropped.
        """
        loop = asyncio.get_running_loop()
        if loop not in self._per_loop:
            _abandon(self._per_loop, closed_only=True)
            timeout = httpx.Timeout(self.timeout_s, connect=min(10.0, self.timeout_s))
            transport = self.transport or FastTransport(self.max_concurrency)
            client = httpx.AsyncClient(timeout=timeout, transport=transport)
            self._per_loop[loop] = (client, asyncio.Semaphore(self.max_concurrency))
        return self._per_loop[loop]

    async def _post_once(self, client: httpx.AsyncClient, url: str,
                         payload: dict[str, Any]) -> httpx.Response:
        """One POST: straight through aiohttp to a real server, else through the injected
        transport."""
        if self.transport is None:
            fast = client._transport  # the FastTransport _loop_state gave this client
            if isinstance(fast, FastTransport):
                body = json.dumps(payload, ensure_ascii=False).encode()
                return await fast.post_json(url, body, client.timeout)
        return await client.post(url, json=payload)

    def _pick_url(self, tried: set[str]) -> str:
        candidates = [u for u in self.urls if u not in tried] or self.urls
        return min(candidates, key=lambda u: self._in_flight[u])

    async def post(self, path: str, payload: dict[str, Any]) -> tuple[str, Any]:
        client, sem = self._loop_state()
        tried: set[str] = set()
        last: LLMError | None = None
        async with sem:
            for attempt in range(self.retries + 1):
                url = self._pick_url(tried)
                self._in_flight[url] += 1
                try:
                    r = await self._post_once(client, url + path, payload)
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


def _abandon(per_loop: dict[asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, Any]], *,
             closed_only: bool = False) -> None:
    """Drop the pools of closed event loops (all of them unless `closed_only`)."""
    for loop in [lp for lp in per_loop if lp.is_closed() or not closed_only]:
        client, _ = per_loop.pop(loop)
        transport = getattr(client, "_transport", None)
        if isinstance(transport, FastTransport) and (loop.is_closed() or not loop.is_running()):
            transport.abandon()
