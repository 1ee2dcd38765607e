"""Faults of the web agent's episodes, each shown on the scripted page (control flow only):

- a browser crash while the episode is being replayed is retried, not recorded as an
  ordinary failure (the real environment answers every step after a crash with "the episode
  is over", which `CrashingEnv` does too);
- a resumed episode counts the attempt that resuming starts;
- a `stop(...)` answer keeps its quotes and escapes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from tests.agent.web.test_graph_web import run_episode
from tests.fakes.web import PLAN, FakeWebEnv, ScriptedWebLLM
from worldplan.agent.web.config import AgentClients, WebAgentConfig, make_models
from worldplan.agent.web.domain import WebDomain
from worldplan.agent.web.router import make_router
from worldplan.envs.web.observation import WebObservation
from worldplan.traces.schema import Episode
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient


@dataclass
class CrashingEnv(FakeWebEnv):
    """Reports a browser crash on each of the real steps in `crash_on` (1-based counts over
    the whole episode, replays included); after a crash, like AsyncWebEnv, every step says
    the episode is over until the next reset."""

    crash_on: set[int] = field(default_factory=set)
    over: bool = False

    async def reset(self, seed: int) -> tuple[WebObservation, dict[str, Any]]:
        self.over = False
        return await super().reset(seed)

    async def step(self, text: str) -> tuple[WebObservation, float, bool, bool, dict[str, Any]]:
        if self.over:
            return self._obs(text, "the episode is over; call reset()"), 0.0, True, False, {}
        if len(self.steps) + 1 in self.crash_on:
            self.steps.append(text)
            self.over = True
            return self._obs(text, "browser crashed"), 0.0, False, True, {
                "browser_crashed": True, "crash": f"crash on real step {len(self.steps)}"}
        return await super().step(text)


def test_a_crash_during_the_replay_is_retried(store: TraceStore) -> None:
    # real steps: 1 fill, 2 check -> crash; retry: reset, 3 fill (replay) -> crash;
    # retry: reset, 4 fill (replay), 5 check, 6 click
    env = CrashingEnv(crash_on={2, 3})
    out, _ = run_episode(ScriptedWebLLM(), env, make_router("reactive"), store)
    assert out.status == "completed" and out.success and out.reward == 1.0
    assert out.attempts == 3 and env.resets == 3
    assert [r["at"] for r in out.retries] == ["step 1", "replay before step 1"]
    assert env.steps[-3:] == PLAN


def test_a_resumed_episode_counts_its_new_attempt(tmp_path: Path, store: TraceStore) -> None:
    ckpt = tmp_path / "ckpt.sqlite"
    out, run_id = run_episode(ScriptedWebLLM(), FakeWebEnv(kill_at_step=2),
                              make_router("best-of-n", n=2), store, checkpoint=ckpt)
    assert out.status == "failed" and out.attempts == 1
    out2, _ = run_episode(ScriptedWebLLM(), FakeWebEnv(), make_router("best-of-n", n=2), store,
                          run_id=run_id, checkpoint=ckpt, episode_id=out.episode_id)
    assert out2.status == "completed" and out2.success
    assert out2.attempts == 2
    with Session(store.engine) as s:
        ep = s.get(Episode, out.episode_id)
    assert ep is not None and ep.attempts == 2
    assert ep.info["retries"][-1]["at"] == "resume" and ep.info["retries"][-1]["attempt"] == 1
    assert "failed" in ep.info["retries"][-1]["reason"]


def test_a_stop_answer_keeps_its_quotes() -> None:
    client = LLMClient("http://scripted", transport=ScriptedWebLLM().transport(), retries=0)
    config = WebAgentConfig(strategy="reactive", budget_tokens=100)
    domain = WebDomain(FakeWebEnv(), make_models(AgentClients(client, client, client), config,
                                                 seed=0), seed=0)
    state: Any = {"actions": [], "step": 0, "observation": {"axtree": ""}}
    for action, answer in [('stop("say \\"hi\\" (twice)")', 'say "hi" (twice)'),
                           ("stop('it\\'s')", "it's"),
                           ('stop(answer="a, b")', "a, b"),
                           ("stop('\"quoted\"')", '"quoted"')]:
        result = asyncio.run(domain.execute(state, action, ""))
        assert result.answer == answer, action
