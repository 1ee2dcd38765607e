"""The one scripted OpenAI-compatible server (vLLM's flavour), for control-flow tests only.

A test gives `OpenAIServer` a `respond` function: request body -> what to answer, one of
- `Reply(samples, prompt_tokens, cached_tokens=None)`: n texts, each with its finish reason,
  its cost in completion tokens and, if it has them, its tokens' logprobs (sent only when
  the request asks for logprobs); `yes_no(p, prompt_tokens)` is the one-token verdict "Yes"
  whose top logprobs give P(Yes) = p;
- `Pooled(rows, prompt_tokens)`: vLLM's `/pooling` answer, one row per pooled token;
- `Failure(kind)`: a scripted failure (see `Failure`).
The server writes the JSON: /v1/chat/completions and /v1/completions (choices, logprobs with
top_logprobs in each endpoint's format, usage with prompt, completion and, when given,
cached tokens), /pooling, /v1/models and, given a `tokenize` function, /tokenize. It records
every request body that reaches `respond` in `requests` and the usage of every answered one
in `served` ({"n", "prompt_tokens", "completion_tokens", "total_tokens"}) (behind real HTTP,
`client_port` is the port the request being answered came from, and `in_flight` the requests
being handled), and runs as an httpx transport (`transport()`) or behind real HTTP on
127.0.0.1 (`serve()`: for a CLI that builds its own client, a subprocess, or an adapter that
opens its own connection).

A scripted model subclasses it when the server's logs are what its tests read (FakeServer,
ScriptedLLM), or owns one when it keeps a log of its own shape (the web roles, the rated
model's problems). Not handled: tokenizing (each respond function states its token rule,
and a `tokenize` function must agree with it),
streaming, checking requests against the OpenAI schema. Never a measure of capability.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


@dataclass(frozen=True)
class Token:
    """One generated token: its logprob and the top alternatives as (token, logprob)."""

    text: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Sample:
    """One choice: its text, finish reason and cost (completion tokens)."""

    text: str
    finish_reason: str  # "stop" or "length"
    tokens: int  # completion tokens, by the respond function's own rule
    logprobs: tuple[Token, ...] | None = None  # sent only when the request asks for them
    stop_reason: str | None = None  # vLLM's: the stop string matched (None: end of sequence)


@dataclass(frozen=True)
class Reply:
    samples: list[Sample]
    prompt_tokens: int
    cached_tokens: int | None = None  # None: the server does not report prompt_tokens_details

    @property
    def completion_tokens(self) -> int:
        return sum(s.tokens for s in self.samples)

    def usage(self) -> dict[str, int]:
        """What `served` records of this reply: n samples and their tokens."""
        return {"n": len(self.samples), "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
                "cached_tokens": self.cached_tokens or 0}


@dataclass(frozen=True)
class Pooled:
    """vLLM's /pooling answer: `rows` (one per pooled token, e.g. [P(bad), P(good)]), or one
    flat vector (an embedding, task "embed")."""

    rows: list[list[float]] | list[float]
    prompt_tokens: int


@dataclass(frozen=True)
class Failure:
    """A scripted failure instead of an answer.

    "500", "429", "503", "404" (any status code): that status with an OpenAI error body;
    "400ctx": 400 saying the context length (64 tokens) is exceeded; "timeout" and
    "connect": the transport raises httpx.ReadTimeout / httpx.ConnectError (with `serve()`
    the connection is dropped instead); "garbage": 200 with an HTML body; "nousage": 200
    with choices but no usage.
    """

    kind: str
    message: str = "scripted"


Answer = Reply | Pooled | Failure
Respond = Callable[[dict[str, Any]], Answer]
Tokenize = Callable[[dict[str, Any]], int]  # a /tokenize body -> its prompt's token count


def yes_no(p: float, prompt_tokens: int) -> Reply:
    """The verifier's one-token verdict "Yes" (finish "length"): P(Yes) = p, 0 < p < 1."""
    yes, no = math.log(p), math.log(1 - p)
    token = Token("Yes", yes, (("Yes", yes), ("No", no)))
    return Reply([Sample("Yes", "length", 1, (token,))], prompt_tokens)


def letters(weights: list[float], prompt_tokens: int) -> Reply:
    """The choice judge's one-token answer: option i's letter (A, B, ...) with probability
    proportional to weights[i] (the most likely one is the token sent)."""
    total = sum(weights) or 1.0
    top = tuple((chr(65 + i), math.log(max(w / total, 1e-9))) for i, w in enumerate(weights))
    best = max(top, key=lambda t: t[1])
    return Reply([Sample(best[0], "length", 1, (Token(best[0], best[1], top),))], prompt_tokens)


class OpenAIServer:
    def __init__(self, respond: Respond, *, model: str = "scripted",
                 max_model_len: int | None = None, tokenize: Tokenize | None = None) -> None:
        self.respond = respond
        self.tokenize = tokenize  # answers /tokenize (None: 404, as a server without it)
        self.model = model
        self.max_model_len = max_model_len  # listed by /v1/models when given
        self.requests: list[dict[str, Any]] = []  # every body that reached `respond`
        self.in_flight = 0  # HTTP requests being handled (serve()): 0 when the server is idle
        self.client_port = 0  # serve(): the client's port of the request `respond` answers
        self.served: list[dict[str, int]] = []  # Reply.usage() of every answered request

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/v1/models"):
            card: dict[str, Any] = {"id": self.model, "object": "model", "owned_by": "scripted"}
            if self.max_model_len is not None:
                card["max_model_len"] = self.max_model_len
            return httpx.Response(200, json={"object": "list", "data": [card]})
        if path.endswith("/tokenize") and self.tokenize is not None:
            return httpx.Response(200, json={"count": self.tokenize(json.loads(request.content)),
                                             "tokens": [], "max_model_len": self.max_model_len})
        endpoint = next((e for e in ("chat/completions", "completions", "pooling")
                         if path.endswith("/" + e)), None)
        if endpoint is None:
            return httpx.Response(404, json={"detail": "Not Found"})
        body = json.loads(request.content)
        self.client_port = int(request.headers.get("x-client-port") or 0)
        self.requests.append(body)
        answer = self.respond(body)
        if isinstance(answer, Failure):
            return _failure(answer, request)
        if isinstance(answer, Pooled):
            self.served.append({"n": 0, "prompt_tokens": answer.prompt_tokens,
                                "completion_tokens": 0, "total_tokens": answer.prompt_tokens,
                                "cached_tokens": 0})
            return httpx.Response(200, json=_pooling_json(answer, self.model))
        self.served.append(answer.usage())
        chat = endpoint == "chat/completions"
        return httpx.Response(200, json=_completion_json(answer, body, self.model, chat))

    @contextmanager
    def serve(self, delay_s: float = 0.0, port: int = 0) -> Iterator[str]:
        """Answer over real HTTP on 127.0.0.1 (each answer after `delay_s` seconds); yields
        the base URL. Requests are answered one at a time (respond functions keep state).
        `port` 0 takes a free port; a given one serves there again after a stop (a server
        restarted on its old address)."""
        lock = threading.Lock()
        handle = self.handle
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                with lock:
                    fake.in_flight += 1
                try:
                    self._answer()
                finally:
                    with lock:
                        fake.in_flight -= 1

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                content = self.rfile.read(length) if length else b""
                headers = {**dict(self.headers), "x-client-port": str(self.client_address[1])}
                request = httpx.Request(self.command, f"http://test{self.path}",
                                        content=content, headers=headers)
                if delay_s:
                    threading.Event().wait(delay_s)
                with lock:
                    response = handle(request)
                data = response.read()
                self.send_response(response.status_code)
                self.send_header("Content-Type",
                                 response.headers.get("content-type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _handle
            do_POST = _handle

            def log_message(self, *args: object) -> None:
                pass

        class _Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that went away (a killed process), or a scripted drop

        server = _Server(("127.0.0.1", port), _Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


def _failure(f: Failure, request: httpx.Request) -> httpx.Response:
    if f.kind == "timeout":
        raise httpx.ReadTimeout(f"{f.message} timeout", request=request)
    if f.kind == "connect":
        raise httpx.ConnectError(f"{f.message} refusal", request=request)
    if f.kind == "400ctx":
        return httpx.Response(400, json={"error": {"message": "This model's maximum context "
                                                   "length is 64 tokens. However, you "
                                                   "requested 90"}})
    if f.kind == "garbage":
        return httpx.Response(200, text="<html>not json</html>")
    if f.kind == "nousage":
        return httpx.Response(200, json={"choices": [{"index": 0, "text": "x"}]})
    return httpx.Response(int(f.kind), json={"error": {"message": f.message}})


def _completion_json(reply: Reply, body: dict[str, Any], model: str,
                     chat: bool) -> dict[str, Any]:
    choices = []
    for k, s in enumerate(reply.samples):
        lp = s.logprobs if body.get("logprobs") else None
        c: dict[str, Any] = {"index": k, "finish_reason": s.finish_reason,
                             "stop_reason": s.stop_reason}
        if chat:
            c["message"] = {"role": "assistant", "content": s.text}
            c["logprobs"] = None if lp is None else {"content": [
                {"token": t.text, "logprob": t.logprob,
                 "top_logprobs": [{"token": a, "logprob": v} for a, v in t.top]} for t in lp]}
        else:
            c["text"] = s.text
            c["logprobs"] = None if lp is None else {
                "tokens": [t.text for t in lp], "token_logprobs": [t.logprob for t in lp],
                "top_logprobs": [dict(t.top) for t in lp]}
        choices.append(c)
    usage: dict[str, Any] = {"prompt_tokens": reply.prompt_tokens,
                             "completion_tokens": reply.completion_tokens,
                             "total_tokens": reply.prompt_tokens + reply.completion_tokens}
    if reply.cached_tokens is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": reply.cached_tokens}
    return {"id": "scripted", "object": "chat.completion" if chat else "text_completion",
            "created": 0, "model": model, "choices": choices, "usage": usage}


def _pooling_json(p: Pooled, model: str) -> dict[str, Any]:
    return {"id": "pool-1", "object": "list", "created": 0, "model": model,
            "data": [{"index": 0, "object": "pooling", "data": p.rows}],
            "usage": {"prompt_tokens": p.prompt_tokens, "total_tokens": p.prompt_tokens,
                      "completion_tokens": 0}}
