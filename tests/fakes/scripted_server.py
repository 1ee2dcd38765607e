"""The plain scripted server of the client tests (control-flow tests only): a list of actions
consumed one per request ("ok", or a `Failure` kind such as "500", "timeout", "garbage");
when the script is empty it answers "ok".

"ok" is n choices "answer {k}", each costing min(max_tokens, `tokens_per_completion`)
completion tokens (finish "length" when max_tokens cut it); a chat request that asks for
logprobs gets one token "Yes" with top logprobs Yes -0.1, No -2.4, Maybe -3.0. Prompts cost
`prompt_tokens` (what /tokenize answers too), `cached_tokens` of them cached. /v1/models
serves "fake" with max_model_len 64.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.openai_server import Answer, Failure, OpenAIServer, Reply, Sample, Token

YES = Token("Yes", -0.1, (("Yes", -0.1), ("No", -2.4), ("Maybe", -3.0)))


class FakeServer(OpenAIServer):
    def __init__(self, script: list[str] | None = None, tokens_per_completion: int = 7,
                 prompt_tokens: int = 11, cached_tokens: int = 0) -> None:
        super().__init__(self.play, model="fake", max_model_len=64,
                         tokenize=self.count)
        self.script = list(script or [])
        self.tokens_per_completion = tokens_per_completion
        self.prompt_tokens = prompt_tokens
        self.cached_tokens = cached_tokens
        self.tokenized = 0  # /tokenize requests answered

    def count(self, _body: dict[str, Any]) -> int:
        self.tokenized += 1
        return self.prompt_tokens

    def play(self, body: dict[str, Any]) -> Answer:
        action = self.script.pop(0) if self.script else "ok"
        if action != "ok":
            return Failure(action)
        per = min(int(body.get("max_tokens", 16)), self.tokens_per_completion)
        finish = "stop" if per == self.tokens_per_completion else "length"
        logprobs = (YES,) if "messages" in body else None
        return Reply([Sample(f"answer {k}", finish, per, logprobs)
                      for k in range(int(body.get("n", 1)))], self.prompt_tokens,
                     cached_tokens=self.cached_tokens)
