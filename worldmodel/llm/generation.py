"""What one call to a model server yields: the typed results of `LLMClient` and the record
its observers receive.

`Generation` holds a request's n `Choice`s (text, finish and stop reason, optional per-token
`TokenLogprob`s), the server's own usage figures (tokens), latency (seconds), a FLOPs
estimate, vLLM's prompt logprobs when asked, and the rows of a /pooling call. `CallRecord`
is what an `Observer` learns of every call, failed ones included.
Not handled: sending requests (worldmodel.llm.client), reading the server's JSON
(worldmodel.llm.parsing).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from worldplan.worldmodel.llm.usage import Usage

Role = str  # "proposer" | "world_model" | "verifier" | "probe" | free text


@dataclass(frozen=True)
class TokenLogprob:
    """One generated (or prompt) token with its log-probability and the top alternatives."""

    token: str
    logprob: float
    top: dict[str, float] = field(default_factory=dict)

    def probabilities(self) -> dict[str, float]:
        """Each top alternative's probability, the generated token included (also when the
        server sent no alternatives); nan counts as 0, a positive logprob as 1."""
        top = dict(self.top) or {self.token: self.logprob}
        top.setdefault(self.token, self.logprob)
        return {t: 0.0 if math.isnan(lp) else math.exp(min(lp, 0.0)) for t, lp in top.items()}


@dataclass(frozen=True)
class Choice:
    text: str
    finish_reason: str | None  # "stop" (a stop string or the end of sequence) | "length"
    logprobs: list[TokenLogprob] | None = None
    stop_reason: str | int | None = None  # vLLM: the stop string (or token id) matched;
    # None with finish "stop" is the end of sequence

    @property
    def ended(self) -> bool:
        """Did the model end the text itself (end of sequence, not a stop string or the
        length limit)?"""
        return self.finish_reason == "stop" and self.stop_reason is None


@dataclass(frozen=True)
class Generation:
    """The result of one request: n choices and what they cost."""

    choices: list[Choice]
    usage: Usage
    latency_s: float
    flops: float | None
    model: str
    url: str
    max_tokens: int  # per sample, after any clamping by the budget
    prompt_logprobs: list[TokenLogprob | None] | None = None
    pooled: list[list[float]] | None = None  # /pooling rows (one per pooled token)

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.choices]

    @property
    def text(self) -> str:
        return self.choices[0].text


@dataclass(frozen=True)
class CallRecord:
    """What observers learn of every call, failed ones included (`error` set, usage None)."""

    role: Role
    endpoint: str  # "chat" | "completions"
    url: str
    model: str
    prompt: str  # the messages as JSON for chat, the text for completions
    params: dict[str, Any]
    generation: Generation | None
    error: str | None
    latency_s: float
    started_at: float  # unix seconds
    tags: dict[str, Any]
    equivalents: int | None = None  # generation-equivalents charged (None: failed call)


Observer = Callable[[CallRecord], None]
