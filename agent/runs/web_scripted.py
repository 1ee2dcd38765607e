"""One web run end to end: page server, browser, trace run, suite, summary.

`run_web(...)` is what `worldplan web` calls: it serves the MiniWoB++ pages, starts one
browser, opens a Run in the trace store (kind "web"), runs every task x seed with the
agent factory (see `runner.run_suite`), stores the per-task success table in the run's
`config["summary"]`, and closes everything, also on errors and Ctrl-C (the run is then
marked failed or interrupted by `TraceStore.run_scope`).

Not handled: option parsing and printing (agent.cli.web).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlmodel import Session

from worldplan.agent.runs.web_episodes import (
    EpisodeOutcome,
    TaskSummary,
    run_suite,
    summarize_tasks,
)
from worldplan.agent.web.scripted import AgentFactory
from worldplan.envs.web.browser import BrowserConfig, BrowserManager
from worldplan.envs.web.core import EnvConfig
from worldplan.envs.web.tasks.registry import make_task, miniwob_server
from worldplan.traces.schema import Run
from worldplan.traces.store import TraceStore


@dataclass
class WebRunResult:
    run_id: int
    outcomes: list[EpisodeOutcome]
    summary: list[TaskSummary]
    browser_restarts: int


async def run_web(store: TraceStore, *, tasks: Sequence[str], seeds: Sequence[int],
                  make_agent: AgentFactory, agent_name: str, suite: str = "",
                  parallel: int = 2, env_config: EnvConfig | None = None,
                  browser_config: BrowserConfig | None = None, max_attempts: int = 3,
                  name: str = "", on_episode: Callable[[EpisodeOutcome], None] | None = None,
                  ) -> WebRunResult:
    cfg = env_config or EnvConfig()
    config = {"suite": suite, "tasks": list(tasks), "seeds": list(seeds), "agent": agent_name,
              "parallel": parallel, "max_steps": cfg.max_steps, "max_attempts": max_attempts}
    with miniwob_server() as server, \
            store.run_scope(name=name or f"web {suite or 'tasks'} {agent_name}", kind="web",
                            env=suite or "miniwob", strategy=agent_name,
                            config=config) as run_id:
        task_objs = [make_task(t, server.base_url) for t in tasks]
        async with BrowserManager(browser_config) as browser:
            outcomes = await run_suite(task_objs, seeds, make_agent, browser, store, run_id,
                                       parallel=parallel, env_config=cfg,
                                       max_attempts=max_attempts, strategy=agent_name,
                                       on_episode=on_episode)
            restarts = browser.restarts
        summary = store_summary(store, run_id, config, outcomes, restarts)
    return WebRunResult(run_id, outcomes, summary, restarts)


def store_summary(store: TraceStore, run_id: int, config: dict[str, Any],
                  outcomes: list[EpisodeOutcome], restarts: int) -> list[TaskSummary]:
    """Summarise a web run per task and keep it, with the browser restarts, in Run.config."""
    summary = summarize_tasks(outcomes)
    with Session(store.engine) as s:
        run = s.get(Run, run_id)
        if run is not None:
            run.config = {**config, "browser_restarts": restarts,
                          "summary": [asdict(r) for r in summary]}
            s.add(run)
            s.commit()
    return summary
