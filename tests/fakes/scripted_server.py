"""A scripted OpenAI-compatible server as an httpx transport, for control-flow tests only.

It answers /v1/models and /v1/chat/completions and /v1/completions from a script: a list of
actions consumed one per request ("ok", "500", "429", "timeout", "connect", "garbage",
"400ctx"); when the script is empty it answers "ok". Completions are deterministic: the text
is "answer {k}" and completion tokens equal min(max_tokens, the words of that text * 2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class FakeServer:
    script: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    tokens_per_completion: int = 7
    prompt_tokens: int = 11

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v1/models"):
            return httpx.Response(200, json={"data": [{"id": "fake", "max_model_len": 64}]})
        body = json.loads(request.content)
        self.requests.append(body)
        action = self.script.pop(0) if self.script else "ok"
        if action == "timeout":
            raise httpx.ReadTimeout("scripted timeout", request=request)
        if action == "connect":
            raise httpx.ConnectError("scripted refusal", request=request)
        if action in ("500", "429", "503"):
            return httpx.Response(int(action), json={"error": {"message": "scripted"}})
        if action == "400ctx":
            return httpx.Response(400, json={"error": {"message": "This model's maximum "
                                  "context length is 64 tokens. However, you requested 90"}})
        if action == "garbage":
            return httpx.Response(200, text="<html>not json</html>")
        if action == "nousage":
            return httpx.Response(200, json={"choices": [{"index": 0, "text": "x"}]})
        n = int(body.get("n", 1))
        per = min(int(body.get("max_tokens", 16)), self.tokens_per_completion)
        chat = "messages" in body
        choices = []
        for k in range(n):
            text = f"answer {k}"
            c: dict[str, Any] = {"index": k, "finish_reason": "stop" if per ==
                                 self.tokens_per_completion else "length"}
            if chat:
                c["message"] = {"role": "assistant", "content": text}
                if body.get("logprobs"):
                    c["logprobs"] = {"content": [{"token": "Yes", "logprob": -0.1, "top_logprobs": [
                        {"token": "Yes", "logprob": -0.1}, {"token": "No", "logprob": -2.4},
                        {"token": "Maybe", "logprob": -3.0}]}]}
            else:
                c["text"] = text
            choices.append(c)
        usage = {"prompt_tokens": self.prompt_tokens, "completion_tokens": per * n,
                 "total_tokens": self.prompt_tokens + per * n,
                 "prompt_tokens_details": {"cached_tokens": 0}}
        return httpx.Response(200, json={"choices": choices, "usage": usage})
