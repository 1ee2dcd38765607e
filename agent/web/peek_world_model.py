"""A world model that is never wrong: the real next page, read from a twin of the page.

A diagnostic, not a planner for users: it answers "how much would planning gain if the
world model were perfect?", the ceiling of every improvement to the LLM world model with
the same proposer and verifier. `PeekingWorldModel(twin, seed)` holds a second environment
of the same task (its own browser page, `twin`); `predict(obs, action, imagined=...,
history=...)` resets the twin with the episode's seed, replays the real actions so far
(`history`, the prompts' strings with their UNCHANGED marks removed) and the imagined ones
(`imagined`, or the imagined actions at the end of `history` when the page is imagined),
takes `action`, and returns the real change (`page_diff.real_change`, written as the LLM
world model writes its predictions) and the real next page as the imagined page. Pages are
seeded and deterministic, so this is the page the agent would see. Only the page is told:
not the reward, nor whether the episode ended (a MiniWoB++ page shows neither), so the
verifier judges it as it would an LLM's prediction.

Cost: 0 tokens (no model is asked); wall time: one reset and a replay per prediction, one
prediction at a time per twin. `n` samples are n copies (the page is deterministic).
A replayed or final action that crashes the browser gives a Prediction with `error` (scored
as a wrong prediction by the search). Not handled: pages that are not deterministic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from worldplan.agent.web.domain import WebEnvLike
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.web.page_diff import format_change, real_change
from worldplan.worldmodel.web.prompts import unannotated
from worldplan.worldmodel.web.world_model import Prediction, imagined_observation


@dataclass
class PeekingWorldModel:
    twin: WebEnvLike  # a second page of the episode's task, used for nothing else
    seed: int  # the episode's seed
    max_tokens: int = 0  # tokens per prediction: none
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def predict(self, obs: str, action: str, *, imagined: Sequence[tuple[str, str]] = (),
                      history: Sequence[str] = (), n: int = 1,
                      budget: Budget | None = None) -> list[Prediction]:
        """n copies of the real change after the real and imagined actions, then `action`."""
        chain = unannotated(history) + [a for a, _ in imagined] + [action]
        async with self._lock:
            page, _ = await self.twin.reset(self.seed)
            before = after = page.axtree
            for i, a in enumerate(chain):
                obs_after, _, term, trunc, info = await self.twin.step(a)
                if info.get("browser_crashed"):
                    why = f"the twin page crashed at {a!r}: {info.get('crash', '')}"
                    return [Prediction("", 0, "error", "", why)] * max(1, n)
                before, after = after, obs_after.axtree
                if (term or trunc) and i < len(chain) - 1:
                    before = after  # the episode ended first: the action changes nothing
                    break
        change = format_change(real_change(before, after))
        imagined_page = imagined_observation(obs, action, after, change)
        return [Prediction(change, 0, "stop", imagined_page, "")] * max(1, n)
