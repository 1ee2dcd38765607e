"""What a run checks before it starts: that its model servers answer.

`check_servers(clients)` asks each distinct server URL for its model list (GET /v1/models,
the cheapest request an OpenAI-compatible server answers) with a short timeout, so that a
server that is down, stuck or not a model server fails before any progress is drawn or any
run row is written, as the client's own typed error naming the URL (worldmodel.llm.errors:
`ServerUnreachable`, `ServerError`, `MalformedResponse`). A client without a model name gets
the first served one, as `LLMClient.served_model` would. `served_model(client)` asks the
client's server which model it serves, for runs that record it, and closes the client's
connections of that event loop.
Not handled: a server that answers this and fails later (the run's own error handling), and
the model's quality.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import httpx

from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.errors import MalformedResponse, ServerError, ServerUnreachable

PREFLIGHT_TIMEOUT_S = 30.0  # per server (seconds): a healthy server answers in milliseconds


def check_servers(clients: Iterable[LLMClient], timeout_s: float | None = None) -> None:
    """Raise the typed error of the first server that does not answer its model list."""
    timeout = PREFLIGHT_TIMEOUT_S if timeout_s is None else timeout_s
    seen: set[str] = set()
    for client in clients:
        for url in client.urls:
            if url in seen:
                continue
            seen.add(url)
            models = served_models(url, timeout)
            if client.model is None and url == client.urls[0]:
                client.model = models[0]


def served_model(client: LLMClient) -> str:
    """The served model's name (the client's own, or the server's first)."""
    async def ask() -> str:
        try:
            return await client.served_model()
        finally:
            await client.aclose()

    return asyncio.run(ask())


def served_models(url: str, timeout_s: float) -> list[str]:
    """The model names served at `url` (GET /v1/models); typed errors naming the URL."""
    where = f"{url}/v1/models"
    try:
        r = httpx.get(where, timeout=timeout_s)
    except httpx.TimeoutException as e:
        raise ServerUnreachable(f"the model server at {url} did not answer within "
                                f"{timeout_s:g} s ({type(e).__name__}): it may be overloaded "
                                "or stuck; check it, or restart it with `worldplan serve`",
                                url=url) from e
    except httpx.HTTPError as e:
        raise ServerUnreachable(f"cannot reach the model server at {url} ({type(e).__name__}: "
                                f"{e}); is it running? start one with `worldplan serve`, or "
                                "pass --llm-url http://HOST:PORT", url=url) from e
    if r.status_code != 200:
        raise ServerError(f"{where} answered {r.status_code}: is {url} an OpenAI-compatible "
                          "model server (vLLM)?", url=url, status=r.status_code)
    try:
        ids = [str(m["id"]) for m in r.json()["data"]]
    except (ValueError, KeyError, TypeError) as e:
        raise MalformedResponse(f"{where} answered something that is not a model list "
                                f"({r.text[:80]!r}): is {url} an OpenAI-compatible model "
                                "server (vLLM)?", url=url) from e
    if not ids:
        raise MalformedResponse(f"{where} lists no model: the server is still loading one, "
                                "or serves none", url=url)
    return ids
