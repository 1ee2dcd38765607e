"""The proposer: candidate next actions for a web page (real or imagined).

`Proposer.propose(obs, history, n)` asks for n candidates: a greedy one (temperature 0),
then n - 1 sampled ones (the sampled request comes second, so its prompt is served from the
prefix cache the greedy one filled). With `constrained` (the default), both requests carry
vLLM's structured outputs with the regular expression of the actions legal on the page
(worldmodel.web.action_grammar): only refs on the page, only verbs their roles allow, so no
invalid action is ever proposed. Token logprobs (top `top_logprobs`) come back with every
candidate: its sequence log-probability and mean token entropy (nats).

The candidates are merged by action (canonical `str(Action)`, read with
`worldmodel.web.prompts.extract_action`, allowlisted, never evaluated): each distinct action
once, with `count` (how many of the n gave it), its best logprob and whether the greedy
reply gave it; ranked by logprob (then count). Unreadable replies (an unconstrained server
or a model that ignores the format) are kept after them, one each, with the parser's error,
so the step record shows them. A server without structured outputs can be used with
`constrained=False`. `avoid` withholds actions from the grammar: the domain passes the
trailing executed actions that left the real page unchanged (see agent.web.domain).
Not handled: the raw input gestures (see action_grammar).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from worldplan.agent.control.difficulty import token_entropy
from worldplan.envs.web.actions import ActionError
from worldplan.worldmodel.llm.accounting import Budget, BudgetExceeded
from worldplan.worldmodel.llm.client import LLMClient, Message
from worldplan.worldmodel.llm.errors import ContextLengthExceeded
from worldplan.worldmodel.web.action_grammar import structured_outputs
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
    tokens: int  # completion tokens of the replies that gave it
    error: str = ""
    entropy: float | None = None  # mean token entropy (nats), when logprobs came back
    logprob: float | None = None  # the reply's sequence log-probability (nats)
    count: int = 1  # replies that gave this action
    greedy: bool = False  # the greedy reply gave it


@dataclass
class Proposer:
    client: LLMClient
    max_tokens: int = 32  # per proposed action (tokens)
    temperature: float = 0.8
    seed: int | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    constrained: bool = True  # vLLM structured outputs: only actions legal on the page
    top_logprobs: int = 5

    async def propose(self, obs: str, history: Sequence[str], n: int, *, budget: Budget,
                      attempts: Sequence[PlannedAttempt] = (),
                      avoid: Sequence[str] = ()) -> list[Proposal]:
        """Up to n distinct candidates, ranked (see the module docstring); a revision
        (`attempts`) samples all n, since its greedy reply would repeat the plan. `avoid`:
        actions the grammar must not offer (action_grammar.without; constrained only)."""
        messages = (revision_messages(obs, history, attempts) if attempts
                    else proposer_messages(obs, history))
        extra = structured_outputs(obs, avoid) if self.constrained else None
        replies: list[tuple[Proposal, bool]] = []
        if not attempts:
            replies += [(p, True) for p in await self._ask(messages, 1, 0.0, extra, budget)]
        sampled = n - len(replies)
        if sampled > 0:
            got = await self._ask(messages, sampled, self.temperature, extra, budget)
            replies += [(p, False) for p in got]
        return merge(replies)

    async def _ask(self, messages: list[Message], n: int, temperature: float,
                   extra: dict[str, Any] | None, budget: Budget) -> list[Proposal]:
        gen = await self.client.chat(
            messages, role="proposer", n=n, max_tokens=self.max_tokens,
            temperature=temperature, seed=self.seed, budget=budget, extra=extra,
            logprobs=True, top_logprobs=self.top_logprobs, tags=self.tags)
        share = gen.usage.completion_tokens // max(1, len(gen.choices))
        out = []
        for c in gen.choices:
            lp = ent = None
            if c.logprobs:
                lp = float(sum(t.logprob for t in c.logprobs))
                ent = float(np.mean([token_entropy(t.top) for t in c.logprobs]))
            try:
                out.append(Proposal(str(extract_action(c.text)), c.text, share, "", ent, lp))
            except ActionError as e:
                out.append(Proposal(None, c.text, share, str(e), ent, lp))
        return out


def _lp(p: Proposal) -> float:
    return p.logprob if p.logprob is not None else -math.inf


def merge(replies: Sequence[tuple[Proposal, bool]]) -> list[Proposal]:
    """Each readable action once (count, best logprob, greedy flag), ranked by logprob then
    count, then the unreadable replies in order."""
    by_action: dict[str, Proposal] = {}
    unreadable: list[Proposal] = []
    for p, greedy in replies:
        if p.action is None:
            unreadable.append(replace(p, greedy=greedy))
            continue
        old = by_action.get(p.action)
        if old is None:
            by_action[p.action] = replace(p, greedy=greedy)
            continue
        better = p if _lp(p) > _lp(old) else old
        by_action[p.action] = replace(better, count=old.count + 1, tokens=old.tokens + p.tokens,
                                      greedy=old.greedy or greedy)
    ranked = sorted(by_action.values(), key=lambda p: (-_lp(p), -p.count))
    return ranked + unreadable

