"""The HTTP transport under every `LLMClient` request to a real server: aiohttp behind
httpx's API (httpx-aiohttp's `AiohttpTransport`), one connection pool per event loop.

Why: httpx's own pool (httpcore) costs about 2 ms of CPU per request at 64 requests in
flight and 3 ms at 256, the orchestrator's largest cost; aiohttp's costs about 0.2 ms
(benchmarks/orchestration.py, zero-latency server, this 2-core host). httpx stays the API, so
injected transports (scripted servers, the trace cache, resume) work as before.

Errors keep httpx's types: a refused connection is `httpx.ConnectError` (httpx-aiohttp
maps it to a connect *timeout*, which would make an unreachable server read as a slow one),
timeouts are `httpx.TimeoutException`, the rest of aiohttp's errors are mapped by
httpx-aiohttp. Not handled: HTTP/2, proxies (aiohttp's own trust_env is off).
"""

from __future__ import annotations

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


class FastTransport(AiohttpTransport):
    """AiohttpTransport with `limit` connections, and refusals reported as refusals."""

    def __init__(self, limit: int) -> None:
        super().__init__(client=lambda: aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=limit, limit_per_host=limit)))

    async def post_json(self, url: str, body: bytes, timeout: httpx.Timeout) -> httpx.Response:
        """POST a JSON body straight through aiohttp, without httpx's client machinery
        (request building, cookies, redirects: about half the CPU of a call), and return
        the answer as an `httpx.Response`; aiohttp's errors become httpx's."""
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        limits = aiohttp.ClientTimeout(sock_connect=timeout.connect, sock_read=timeout.read)
        request = httpx.Request("POST", url)
        try:
            async with self.client.post(url, data=body, timeout=limits,
                                        headers={"Content-Type": "application/json"}) as r:
                content = await r.read()
                return httpx.Response(r.status, content=content, request=request)
        except TimeoutError as e:
            raise httpx.ReadTimeout(f"{type(e).__name__}: {e}", request=request) from e
        except aiohttp.ClientError as e:
            raise httpx.ConnectError(f"{type(e).__name__}: {e}", request=request) from e

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as e:
            if isinstance(e.__cause__, TimeoutError):  # aiohttp's timeouts are TimeoutErrors
                raise
            raise httpx.ConnectError(str(e) or type(e.__cause__).__name__,
                                     request=request) from e.__cause__

    def abandon(self) -> None:
        """Let go of a pool whose event loop has closed (its sockets went with the loop),
        without aiohttp's "unclosed session" warnings."""
        session = self.client
        if not isinstance(session, aiohttp.ClientSession) or session.closed:
            return
        connector = session.connector
        session.detach()
        if connector is not None:
            try:
                connector._close()  # synchronous: drops the pooled connections
            except RuntimeError:  # the loop is closed: nothing left to close on it
                pass
