"""A scripted chat model for strategy unit tests (control-flow tests only).

Solver requests get `solve(prompt, body)`'s text, cut at the first stop string (finish
"stop") and at max_tokens (finish "length"), one call of `solve` per sample. Tokens are
whitespace-delimited chunks, and a completion that ends by itself costs one more token (the
end-of-sequence), like a real server; prompts cost the chunks of their messages. Verifier
requests (max_tokens 1 with logprobs) get one token whose top logprobs give
P(Yes) = `judge(prompt)`. The server's `served` holds every answered usage, so tests can
compare a strategy's accounting with what the "server" reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.fakes.openai_server import Answer, OpenAIServer, Reply, Sample, yes_no

CHUNK = re.compile(r"\s*\S+")


def prompt_text(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body["messages"])


class ScriptedLLM(OpenAIServer):
    def __init__(self, solve: Callable[[str, dict[str, Any]], str],
                 judge: Callable[[str], float] = lambda _prompt: 0.5,
                 model: str = "scripted") -> None:
        super().__init__(self.answer, model=model)
        self.solve, self.judge = solve, judge

    def answer(self, body: dict[str, Any]) -> Answer:
        prompt = prompt_text(body)
        prompt_tokens = len(CHUNK.findall(prompt))
        if body.get("logprobs") and body.get("max_tokens") == 1:
            return yes_no(min(max(self.judge(prompt), 1e-9), 1 - 1e-9), prompt_tokens)
        return Reply([cut(self.solve(prompt, body), body)
                      for _ in range(int(body.get("n", 1)))], prompt_tokens)


def cut(text: str, body: dict[str, Any]) -> Sample:
    """The text up to the first stop string, then at most max_tokens chunks."""
    for s in body.get("stop") or []:
        if s in text:
            text = text[: text.index(s)]
    chunks = CHUNK.findall(text)
    max_tokens = int(body.get("max_tokens", 16))
    if len(chunks) + 1 > max_tokens:
        return Sample("".join(chunks[:max_tokens]), "length", max_tokens)
    return Sample(text, "stop", len(chunks) + 1)
