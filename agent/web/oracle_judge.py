"""A judge that is never wrong about the next action: the task's oracle, asked on a twin page.

A diagnostic, not a verifier for users (it reads the task's scripted solver): it answers
"how much would planning gain if the judge picked perfectly among the proposer's own
candidates?", the ceiling of every improvement to the verifier (and to the world model it
judges through) with the same proposer. `OracleJudge(twin, seed, task)` holds a second
environment of the episode's task; `score(goal, obs, samples, history=...)` resets the twin
with the episode's seed, replays the real actions so far (`history`, UNCHANGED marks
removed) beside the oracle as it would run the episode (a one-shot plan from the first page;
a reactive oracle asked again, with its memo, when its plan runs out), and scores each
imagined trajectory 1.0 when its first action is the oracle's next one (canonical action
strings), else 0.0. Once the real actions leave the oracle's plan, the oracle plans afresh
from the page as it is now. With no world model (`world_model="none"`) and
WebDreamer's selection, the step then takes the oracle's action when the proposer offered
it, and the first-ranked candidate (the majority) when it did not.

Limits: after the episode has left the oracle's plan, a one-shot oracle planning afresh
mid-episode may plan a step the page no longer needs (measured: re-ticking a radio forever
when it was asked afresh at every step, which is why it follows its own plan while it can);
an action that is right but is not the oracle's (ticking a radio with click instead of
check) scores 0. Cost: 0 tokens; one reset and replay per step (the plan is kept for the
step's other candidates). A twin that crashes or cannot reset, or an oracle that cannot
plan (or fails), scores every candidate 0.0 (the majority acts). The twin is its own: the
peek world model, which replays on a twin too, cannot share one (`make_models` refuses
both at once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from worldplan.agent.web.domain import WebEnvLike
from worldplan.envs.web.actions import canonical_action
from worldplan.envs.web.observation import WebObservation
from worldplan.envs.web.oracles import cheat, oracle_for
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.web.prompts import unannotated
from worldplan.worldmodel.web.world_model import ProgressJudgement


@dataclass
class OracleJudge:
    twin: WebEnvLike  # a second page of the episode's task, used for nothing else
    seed: int  # the episode's seed
    task: str  # the task whose oracle judges
    plans: dict[tuple[str, ...], str | None] = field(default_factory=dict)  # history -> next
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def tokens_per_sample(self) -> int:
        return 0  # no model is asked

    async def next_action(self, history: Sequence[str]) -> str | None:
        """The oracle's next action after the real actions `history` (None: it has none)."""
        real = tuple(unannotated(history))
        async with self._lock:
            if real not in self.plans:
                self.plans[real] = await self._plan(real)
            return self.plans[real]

    async def _plan(self, actions: tuple[str, ...]) -> str | None:
        """Replay `actions` beside the oracle as it would run the episode: a one-shot plan
        from the first page, a reactive oracle asked again (same memo) when its plan runs
        out. While the actions are the oracle's own, its next action is the plan's next
        one; once they leave it, the oracle plans afresh from the page as it is."""
        try:
            obs, _ = await self.twin.reset(self.seed)
        except Exception:  # noqa: BLE001  (a twin that cannot reset: no judgement, never a crash)
            return None
        memo: dict[str, object] = {}
        plan = self._ask(obs, memo)
        on_plan = plan is not None
        reactive = bool(getattr(oracle_for(self.task), "reactive", False))
        for a in actions:
            obs, _, term, trunc, info = await self.twin.step(a)
            if info.get("browser_crashed") or term or trunc:
                return None
            if on_plan and plan and canonical_action(plan[0]) == canonical_action(a):
                plan = plan[1:]
                if not plan and reactive:
                    plan = self._ask(obs, memo)
                    on_plan = plan is not None
            else:
                on_plan = False
        if not on_plan:
            plan = self._ask(obs, {})
        return canonical_action(plan[0]) if plan else None

    def _ask(self, obs: WebObservation, memo: dict[str, object]) -> list[str] | None:
        try:
            return list(cheat(self.task, obs, memo))
        except Exception:  # noqa: BLE001  (OracleUnavailable, or a solver's own error)
            return None

    async def score(self, goal: str, obs: str, samples: Sequence[Sequence[tuple[str, str]]],
                    *, budget: Budget | None = None,
                    history: Sequence[str] = ()) -> ProgressJudgement:
        """1.0 for each trajectory whose first action is the oracle's next one, else 0.0."""
        target = await self.next_action(history)
        scores = [float(target is not None and bool(s) and canonical_action(s[0][0]) == target)
                  for s in samples]
        return ProgressJudgement(sum(scores) / len(scores) if scores else 0.0, scores, 0, 0)
