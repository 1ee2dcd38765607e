"""The proposer: candidate next actions for a web page (real or imagined).

`Proposer.propose(obs, history, n)`: n candidate actions in one request, each read with
`worldmodel.web.prompts.extract_action` (allowlisted, never evaluated); unreadable ones are
kept (action None) so the trace shows them. `majority(proposals)`: the most frequent
readable action.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from worldplan.envs.web.actions import ActionError
from worldplan.worldmodel.llm.accounting import Budget, BudgetExceeded
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.errors import ContextLengthExceeded
from worldplan.worldmodel.web.prompts import (
    PlannedAttempt,
    extract_action,
    proposer_messages,
    revision_messages,
)

STOPPED = (BudgetExceeded, ContextLengthExceeded)


@dataclass(frozen=True)
class Proposal:
    action: str | None  # the parsed action, canonical (str(Action)); None if unreadable
    raw: str
    tokens: int
    error: str = ""
    entropy: float | None = None  # mean token entropy (nats), when logprobs were asked


@dataclass
class Proposer:
    client: LLMClient
    max_tokens: int = 32  # per proposed action (tokens)
    temperature: float = 0.8
    seed: int | None = None
    tags: dict[str, Any] = field(default_factory=dict)

    async def propose(self, obs: str, history: Sequence[str], n: int, *, budget: Budget,
                      attempts: Sequence[PlannedAttempt] = ()) -> list[Proposal]:
        messages = (revision_messages(obs, history, attempts) if attempts
                    else proposer_messages(obs, history))
        gen = await self.client.chat(
            messages, role="proposer", n=n, max_tokens=self.max_tokens,
            temperature=self.temperature if n > 1 or attempts else 0.0, seed=self.seed,
            budget=budget, tags=self.tags)
        share = gen.usage.completion_tokens // max(1, len(gen.choices))
        out = []
        for c in gen.choices:
            try:
                out.append(Proposal(str(extract_action(c.text)), c.text, share))
            except ActionError as e:
                out.append(Proposal(None, c.text, share, str(e)))
        return out


def majority(proposals: Sequence[Proposal]) -> str | None:
    """The most frequent readable action (the first seen on ties)."""
    counts = Counter(p.action for p in proposals if p.action)
    return counts.most_common(1)[0][0] if counts else None
