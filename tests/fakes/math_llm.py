"""A scripted OpenAI-compatible chat server (an httpx transport) for strategy unit tests.

Solver requests get `solve(prompt, body)`'s text, cut at the first stop string (finish
"stop") and at max_tokens (finish "length"). Tokens are whitespace-delimited chunks, and a
completion that ends by itself costs one more token (the end-of-sequence), like a real
server. Verifier requests (max_tokens 1 with logprobs) get one token whose top logprobs
give P(Yes) = `judge(prompt)`. Every served usage is recorded in `served`, so tests can
compare a strategy's accounting with what the "server" reported. Control flow only.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

CHUNK = re.compile(r"\s*\S+")


def prompt_text(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body["messages"])


def last_content(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


@dataclass
class ScriptedLLM:
    solve: Callable[[str, dict[str, Any]], str]
    judge: Callable[[str], float] = lambda _prompt: 0.5
    requests: list[dict[str, Any]] = field(default_factory=list)
    served: list[dict[str, int]] = field(default_factory=list)  # usage per answered request
    model: str = "scripted"

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v1/models"):
            return httpx.Response(200, json={"data": [{"id": self.model}]})
        body = json.loads(request.content)
        self.requests.append(body)
        prompt = prompt_text(body)
        prompt_tokens = len(CHUNK.findall(prompt))
        if body.get("logprobs") and body.get("max_tokens") == 1:
            p = min(max(self.judge(prompt), 1e-9), 1 - 1e-9)
            top = [{"token": "Yes", "logprob": math.log(p)},
                   {"token": "No", "logprob": math.log(1 - p)}]
            choice = {"index": 0, "finish_reason": "length",
                      "message": {"role": "assistant", "content": top[0]["token"]},
                      "logprobs": {"content": [{"token": "Yes", "logprob": math.log(p),
                                                "top_logprobs": top}]}}
            return self._reply([choice], prompt_tokens, 1)
        choices, completion = [], 0
        for k in range(int(body.get("n", 1))):
            text, finish, tokens = self._cut(self.solve(prompt, body), body)
            completion += tokens
            choices.append({"index": k, "finish_reason": finish,
                            "message": {"role": "assistant", "content": text}})
        return self._reply(choices, prompt_tokens, completion)

    def _reply(self, choices: list[dict[str, Any]], prompt_tokens: int,
               completion_tokens: int) -> httpx.Response:
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        self.served.append(usage)
        return httpx.Response(200, json={"model": self.model, "choices": choices,
                                         "usage": usage})

    @staticmethod
    def _cut(text: str, body: dict[str, Any]) -> tuple[str, str, int]:
        finish = "stop"
        for s in body.get("stop") or []:
            if s in text:
                text = text[: text.index(s)]
        chunks = CHUNK.findall(text)
        max_tokens = int(body.get("max_tokens", 16))
        if len(chunks) + 1 > max_tokens:
            return "".join(chunks[:max_tokens]), "length", max_tokens
        return text, finish, len(chunks) + 1
