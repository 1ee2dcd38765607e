"""An embedding of a conversation from a model served by vLLM's pooling runner.

`embed(client, messages)` asks `/pooling` (task "embed") of a server started with
`worldplan serve --embed` (vLLM `--runner pooling --convert embed`: the same weights as the
generating server, last-token pooling, L2-normalised): the final hidden state at the last
token, with the generation prompt added, so for a yes/no question it is the state from
which the generating model would read its answer. Costs the prompt's tokens and no
generation (a call worth 0 generation-equivalents unless the caller says otherwise); it is
counted, budgeted and traced like any call (`LLMClient.pool`).
A vector that is empty or not finite is a `MalformedResponse`.
Not handled: token-level embeddings, Matryoshka dimensions, batching several conversations
in one request (the server batches concurrent requests).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient, Message
from worldplan.worldmodel.llm.errors import MalformedResponse
from worldplan.worldmodel.llm.generation import Generation


@dataclass(frozen=True)
class Embedded:
    vector: list[float]  # (dim,), unit length as the server returns it
    generation: Generation  # the call: usage (prompt tokens), latency, FLOPs


async def embed(client: LLMClient, messages: Sequence[Message], *,
                budget: Budget | None = None, equivalents: int = 0,
                tags: dict[str, Any] | None = None) -> Embedded:
    """The embedding of `messages` (generation prompt added) from a pooling server."""
    gen = await client.pool(messages, task="embed", budget=budget, equivalents=equivalents,
                            tags=tags, add_generation_prompt=True)
    rows = gen.pooled or []
    # an embedding comes back as one flat list, which parse_pooling reads as one-value rows
    if not rows or any(len(r) != 1 for r in rows):
        raise MalformedResponse(f"{gen.url}/pooling did not send one embedding vector "
                                f"({len(rows)} rows): is it served with `--convert embed`?",
                                url=gen.url)
    vector = [r[0] for r in rows]
    if not all(math.isfinite(v) for v in vector):
        raise MalformedResponse(f"{gen.url}/pooling sent a vector with non-finite values",
                                url=gen.url)
    return Embedded(vector, gen)
