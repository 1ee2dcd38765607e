"""A scripted chat model for strategy unit tests (control-flow tests only).

Solver requests get `solve(prompt, body)`'s text, cut at the first stop string (finish
"stop") and at max_tokens (finish "length"), one call of `solve` per sample. Tokens are
whitespace-delimited chunks, and a completion that ends by itself costs one more token (the
end-of-sequence), like a real server; prompts cost the chunks of their messages. Verifier
requests (max_tokens 1 with logprobs) get one token whose top logprobs give P(Yes) =
`judge(prompt)`; /pooling (a PRM, task token_classify) answers one row per step token,
P(good) = `judge(the prompt up to that step)`. /tokenize counts prompts by the same rule;
with `cache=True` the server reports cached tokens (the longest prefix, in whole groups of 4
chunks, that an earlier prompt began with). The server's `served` holds every answered
usage, so tests can compare a strategy's accounting with what the "server" reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.fakes.openai_server import Answer, OpenAIServer, Pooled, Reply, Sample, yes_no

CHUNK = re.compile(r"\s*\S+")
STEP_TOKEN = "<extra_0>"


def prompt_text(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body["messages"])


def prompt_tokens(body: dict[str, Any]) -> int:
    """The prompt's cost: its messages' chunks (what /tokenize answers too)."""
    return len(CHUNK.findall(prompt_text(body)))


class ScriptedLLM(OpenAIServer):
    def __init__(self, solve: Callable[[str, dict[str, Any]], str],
                 judge: Callable[[str], float] = lambda _prompt: 0.5,
                 model: str = "scripted", cache: bool = False) -> None:
        super().__init__(self.answer, model=model, tokenize=prompt_tokens)
        self.solve, self.judge = solve, judge
        self.cache = cache  # report cached tokens: the longest earlier prompt's shared prefix
        self._seen: set[tuple[str, ...]] = set()

    def answer(self, body: dict[str, Any]) -> Answer:
        prompt = prompt_text(body)
        chunks = tuple(CHUNK.findall(prompt))
        cached = self._cached(chunks) if self.cache else None
        if body.get("task") == "token_classify":  # a PRM: one row per step token
            head = "\n".join(m["content"] for m in body["messages"][:-1])
            steps = body["messages"][-1]["content"].split(STEP_TOKEN)[:-1]
            ps = [min(max(self.judge(head + "\n" + "\n\n".join(steps[:i + 1])), 1e-9),
                      1 - 1e-9) for i in range(len(steps))]
            return Pooled([[1 - p, p] for p in ps], len(chunks))
        if body.get("logprobs") and body.get("max_tokens") == 1:
            reply = yes_no(min(max(self.judge(prompt), 1e-9), 1 - 1e-9), len(chunks))
            return Reply(reply.samples, len(chunks), cached)
        return Reply([cut(self.solve(prompt, body), body)
                      for _ in range(int(body.get("n", 1)))], len(chunks), cached)

    def _cached(self, chunks: tuple[str, ...]) -> int:
        """Chunks of this prompt that an earlier prompt began with (whole prefixes of 4)."""
        hit = next((k for k in range(len(chunks) - len(chunks) % 4, 0, -4)
                    if chunks[:k] in self._seen), 0)
        self._seen.update(chunks[:k] for k in range(4, len(chunks) + 1, 4))
        return hit


def cut(text: str, body: dict[str, Any]) -> Sample:
    """The text up to the first stop string (its stop_reason), then at most max_tokens
    chunks; a text that ends by itself has stop_reason None (end of sequence)."""
    matched = None
    for s in body.get("stop") or []:
        if s in text:
            text, matched = text[: text.index(s)], s
            break
    chunks = CHUNK.findall(text)
    max_tokens = int(body.get("max_tokens", 16))
    if len(chunks) + 1 > max_tokens:
        return Sample("".join(chunks[:max_tokens]), "length", max_tokens)
    return Sample(text, "stop", len(chunks) + 1, None, matched)
