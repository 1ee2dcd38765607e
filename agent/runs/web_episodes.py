"""Running agents on web tasks: episodes with retries, suites in parallel, traces stored.

`run_episode` plays one seeded episode of a task with a fresh agent, and stores it through
`traces.store.TraceStore`: an Episode row (task, seed, reward, success, attempts, info) and
one Step row per action (the observation the agent saw, the action, reward, error, flags).
When the browser crashes or hangs, the episode is replayed from `reset(seed)` with a new
agent, up to `max_attempts` times; steps of every attempt stay in the trace (their info says
which attempt), `Episode.attempts` counts attempts and `Episode.info["retries"]` says why.
An agent that raises fails its episode (status `failed`, the error kept), not the suite.

`run_suite` runs tasks x seeds with at most `parallel` episodes at once, each on its own
page (browser context) of one shared browser; the seeds of a task reuse a page
(`EnvPool`: reseeded in place, not reloaded). `summarize_tasks` makes the per-task success table.
Not handled: the command line (agent.cli.web), LLM agents (agent package).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from worldplan.agent.web.scripted import AgentFactory
from worldplan.envs.web.actions import stop_answer
from worldplan.envs.web.browser import BrowserCrashed, BrowserManager
from worldplan.envs.web.core import AsyncWebEnv, EnvConfig
from worldplan.envs.web.tasks.base import WebTask
from worldplan.envs.web.tasks.registry import category_of
from worldplan.traces.store import TraceStore


@dataclass
class EpisodeOutcome:
    task: str
    seed: int
    episode_id: int
    reward: float = 0.0
    success: bool = False
    steps: int = 0
    attempts: int = 1
    status: str = "completed"
    error: str = ""
    wall_time_s: float = 0.0  # seconds
    retries: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class TaskSummary:
    task: str
    category: str
    episodes: int
    successes: int
    mean_reward: float
    mean_steps: float
    retried: int  # episodes that needed more than one attempt
    failed: int  # episodes that ended in an error (not a low reward)

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0


async def _act(agent: Any, obs: Any) -> str:
    out = agent.act(obs)
    if inspect.isawaitable(out):
        out = await out
    return str(out)


async def run_episode(task: WebTask, seed: int, make_agent: AgentFactory,
                      browser: BrowserManager, store: TraceStore, run_id: int, *,
                      env_config: EnvConfig | None = None, max_attempts: int = 3,
                      strategy: str = "", success_threshold: float = 1.0,
                      env: AsyncWebEnv | None = None) -> EpisodeOutcome:
    """One episode; on `env` if given (left open: its page serves the next episode),
    else on an environment of its own, closed at the end."""
    own = env is None
    cfg = env.config if env is not None else env_config or EnvConfig()
    env = env if env is not None else AsyncWebEnv(task, browser, cfg)
    t0 = time.time()
    ep_id = store.start_episode(run_id, env="web", task_id=task.name, seed=seed,
                                strategy=strategy, info={"category": category_of(task.name)})
    out = EpisodeOutcome(task.name, seed, ep_id)
    answer, step_index, info_extra = "", 0, {}
    try:
        for attempt in range(1, max_attempts + 1):
            out.attempts = attempt
            try:
                obs, info = await env.reset(seed)
            except BrowserCrashed as e:
                out.retries.append({"attempt": attempt, "at": "reset", "reason": str(e)})
                continue
            info_extra = {k: v for k, v in info.items() if k == "fields"}
            agent = make_agent(task.name, seed)
            crashed = False
            for _ in range(cfg.max_steps):
                action = await _act(agent, obs)
                ts = time.time()
                nxt, reward, term, trunc, sinfo = await env.step(action)
                store.add_step(ep_id, index=step_index, observation=obs.to_prompt(),
                               action=action, reward=reward, terminated=term,
                               truncated=trunc, error=nxt.last_action_error,
                               info={**sinfo, "attempt": attempt},
                               wall_time_s=time.time() - ts)
                step_index += 1
                obs, out.reward, out.steps = nxt, float(reward), sinfo.get("step", out.steps)
                answer = stop_answer(action) or answer
                if sinfo.get("browser_crashed"):
                    crashed = True
                    out.retries.append({"attempt": attempt, "at": f"step {sinfo['step']}",
                                        "reason": sinfo.get("crash", "")})
                    break
                if term or trunc:
                    break
            if not crashed:
                break
        else:
            out.status, out.error = "failed", f"browser failed {max_attempts} times"
    except Exception as e:  # the agent or the task failed: keep the record, fail the episode
        out.status, out.error = "failed", f"{type(e).__name__}: {e}"
    finally:
        if own:
            await env.close()
        out.success = out.status == "completed" and out.reward >= success_threshold
        out.wall_time_s = time.time() - t0
        store.finish_episode(
            ep_id, status=out.status, reward=out.reward, success=out.success, answer=answer,
            attempts=out.attempts, error=out.error, wall_time_s=out.wall_time_s,
            info={"category": category_of(task.name), "steps": out.steps,
                  "retries": out.retries, "browser_generation": browser.generation,
                  **info_extra})
    return out


async def run_suite(tasks: Sequence[WebTask], seeds: Sequence[int], make_agent: AgentFactory,
                    browser: BrowserManager, store: TraceStore, run_id: int, *,
                    parallel: int = 2, env_config: EnvConfig | None = None,
                    max_attempts: int = 3, strategy: str = "",
                    on_episode: Callable[[EpisodeOutcome], None] | None = None,
                    ) -> list[EpisodeOutcome]:
    """All tasks x seeds, at most `parallel` at once; outcomes in (task, seed) order. The
    seeds of a task reuse idle environments (pages reseeded in place); at most `parallel`
    idle ones are kept, the oldest closed first."""
    gate = asyncio.Semaphore(max(1, parallel))
    pool = EnvPool(browser, env_config or EnvConfig(), keep=max(1, parallel))

    async def one(task: WebTask, seed: int) -> EpisodeOutcome:
        async with gate:
            env = pool.take(task)
            try:
                res = await run_episode(task, seed, make_agent, browser, store, run_id,
                                        max_attempts=max_attempts, strategy=strategy,
                                        env=env)
            finally:
                await pool.give(env)
        if on_episode is not None:
            on_episode(res)
        return res

    try:
        return await gather_episodes([one(t, s) for t in tasks for s in seeds])
    finally:
        await pool.close()


class EnvPool:
    """Idle environments by task, for the next episode of the same task; at most `keep`
    idle ones (the oldest is closed when one more is given back)."""

    def __init__(self, browser: BrowserManager, config: EnvConfig, keep: int) -> None:
        self.browser, self.config, self.keep = browser, config, keep
        self._idle: list[AsyncWebEnv] = []

    def take(self, task: WebTask) -> AsyncWebEnv:
        for i, env in enumerate(self._idle):
            if env.task is task:
                return self._idle.pop(i)
        return AsyncWebEnv(task, self.browser, self.config)

    async def give(self, env: AsyncWebEnv) -> None:
        self._idle.append(env)
        while len(self._idle) > self.keep:
            await self._idle.pop(0).close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for env in idle:
            await env.close()


async def gather_episodes(coros: Sequence[Coroutine[Any, Any, EpisodeOutcome]]
                          ) -> list[EpisodeOutcome]:
    """Run the episodes, outcomes in order; if one raises, cancel the others (running ones
    record themselves interrupted), wait for them, and raise the first error, so nothing
    keeps using a browser that is being closed."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def summarize_tasks(outcomes: Sequence[EpisodeOutcome]) -> list[TaskSummary]:
    by_task: dict[str, list[EpisodeOutcome]] = {}
    for o in outcomes:
        by_task.setdefault(o.task, []).append(o)
    rows = []
    for name, eps in by_task.items():
        n = len(eps)
        rows.append(TaskSummary(
            task=name, category=category_of(name), episodes=n,
            successes=sum(o.success for o in eps),
            mean_reward=sum(o.reward for o in eps) / n, mean_steps=sum(o.steps for o in eps) / n,
            retried=sum(o.attempts > 1 for o in eps),
            failed=sum(o.status != "completed" for o in eps)))
    return rows
