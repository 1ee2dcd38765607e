"""What `worldplan web` runs: its options resolved into tasks, seeds and an agent, then run.

`run_web_command(options, store, display)` resolves the options, or the interrupted run that
`options.resume` names (agent.runs.web_resume.load_web_run), into the task names, the seeds
and the agent: a scripted agent (agent.web.scripted: oracle, random) run by
agent.runs.web_scripted.run_web, or, with a strategy, the LLM agent through the graph
(agent.web.router, its clients from the URLs) run by agent.runs.web_agent.run_web_agent,
checkpointing every step beside the trace database. With the oracle agent, tasks without an
oracle solver are left out (`display.skipped`, and the result's `skipped`), and the pages
show element boxes when an oracle reads them (`envs.web.oracles.needs_boxes`). Anything
that keeps the run from starting (an unknown suite, task, agent, strategy, search or
policy; no model server, or one that does not answer its model list
(agent.runs.preflight); a run that cannot resume; no task left) is a `WebRunError`, raised
before any episode or progress; failures during the run propagate unchanged.
Not handled: option parsing and printing (agent.cli.web shows the progress and the table).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from worldplan.agent.runs.preflight import check_servers
from worldplan.agent.runs.web_agent import run_web_agent
from worldplan.agent.runs.web_episodes import EpisodeOutcome
from worldplan.agent.runs.web_resume import WebRunSpec, checkpoint_path, load_web_run
from worldplan.agent.runs.web_scripted import WebRunResult, run_web
from worldplan.agent.web.config import (
    AgentClients,
    WebAgentConfig,
    check_roles,
    connect_clients,
)
from worldplan.agent.web.router import make_router
from worldplan.agent.web.scripted import AgentFactory, make_agent_factory
from worldplan.envs.web.core import EnvConfig
from worldplan.envs.web.oracles import needs_boxes, oracle_for
from worldplan.envs.web.tasks.registry import miniwob_task_names, suite_tasks
from worldplan.traces.store import TraceStore

OnEpisode = Callable[[EpisodeOutcome], None]


class WebRunError(Exception):
    """The options cannot be run; the message is one line saying why."""


class WebDisplay(Protocol):
    """How the caller shows a web run (the CLI: a line and a progress bar)."""

    def skipped(self, tasks: Sequence[str]) -> None:
        """Tasks left out: the oracle agent has no solver for them."""

    def episodes(self, total: int, finished: int) -> AbstractContextManager[OnEpisode]:
        """Entered while the run's `total` episodes run, `finished` of them kept from an
        earlier process; gives the callback of each episode that ends."""


@dataclass(frozen=True)
class WebRunOptions:
    """Every option of `worldplan web` (its defaults are the command's)."""

    suite: str  # miniwob-dev | miniwob-all
    tasks: tuple[str, ...]  # these tasks instead of the suite
    agent: str  # scripted agent without a strategy: oracle | random
    strategy: str  # "" (a scripted agent) or the LLM agent's strategy (agent.web.router)
    budget_tokens: int | None  # LLM agent: total tokens per episode (None: no limit)
    search: str  # LLM agent: tree search of branching steps, beam | mcts
    simulations: int  # LLM agent: MCTS simulations per branching step
    expand: int  # LLM agent: one-gesture actions added as search roots (agent.web.expansion)
    judge: str  # LLM agent: llm (yes/no on each candidate) | choice (one question over all)
    judge_orders: int  # LLM agent, choice judge: orders of the candidates averaged
    judge_ranker: str  # LLM agent, choice or ranker judge: a fitted action ranker file
    world_model: str  # LLM agent: llm | none (the judge sees the actions alone)
    policy: str  # LLM agent, compute-optimal: web policy file ("": the bundled prior)
    resume: int | None  # LLM agent: the interrupted run to continue, with its own settings
    llm_urls: tuple[str, ...]  # LLM agent: model server URLs (all roles)
    world_model_urls: tuple[str, ...]  # LLM agent: the world model's server, if its own
    verifier_urls: tuple[str, ...]  # LLM agent: the verifier's server, if its own
    seeds: int  # episodes per task
    seed_start: int  # the first seed
    parallel: int  # episodes at once (browser contexts)
    max_steps: int  # steps per episode before truncation
    max_attempts: int  # attempts per episode on a browser crash
    name: str  # run name in the trace database ("": a generated one)
    db_url: str  # the trace database of `store` (the checkpoints go beside it)


@dataclass(frozen=True)
class WebCommandResult:
    run: WebRunResult
    label: str  # the LLM agent's strategy, or the scripted agent's name
    tasks: tuple[str, ...]  # the tasks that ran
    seeds: tuple[int, ...]
    skipped: tuple[str, ...] = ()  # tasks left out: the oracle agent has no solver for them


@dataclass(frozen=True)
class _Scripted:
    """A scripted agent (oracle or random), one per episode from the factory."""

    factory: AgentFactory


@dataclass(frozen=True)
class _LLMAgent:
    """The LLM agent through the graph: its settings, its clients, the run it resumes."""

    config: WebAgentConfig
    clients: AgentClients
    spec: WebRunSpec | None  # the run to resume


def run_web_command(options: WebRunOptions, store: TraceStore, display: WebDisplay
                    ) -> WebCommandResult:
    """Resolve the options, run every task x seed in the browser, traced in `store`."""
    tasks, agent = _resolve(options, store)
    skipped: list[str] = []
    if isinstance(agent, _Scripted) and options.agent == "oracle":
        skipped = [t for t in tasks if oracle_for(t) is None]
        tasks = tuple(t for t in tasks if oracle_for(t) is not None)
        if skipped:
            display.skipped(skipped)
    if not tasks:
        raise WebRunError("no tasks to run")
    spec = agent.spec if isinstance(agent, _LLMAgent) else None
    seeds = tuple(spec.seeds if spec else
                  range(options.seed_start, options.seed_start + options.seeds))
    with display.episodes(len(tasks) * len(seeds),
                          len(spec.plan.finished) if spec else 0) as on_episode:
        if isinstance(agent, _LLMAgent):
            result = asyncio.run(_run_agent(options, store, agent, tasks, seeds, on_episode))
        else:
            result = asyncio.run(run_web(
                store, tasks=tasks, seeds=seeds, make_agent=agent.factory,
                agent_name=options.agent, suite="" if options.tasks else options.suite,
                parallel=options.parallel, max_attempts=options.max_attempts,
                env_config=EnvConfig(max_steps=options.max_steps,
                                     boxes=options.agent == "oracle" and needs_boxes(tasks)),
                name=options.name, on_episode=on_episode))
    label = agent.config.strategy if isinstance(agent, _LLMAgent) else options.agent
    return WebCommandResult(result, label, tasks, seeds, tuple(skipped))


def _resolve(options: WebRunOptions, store: TraceStore
             ) -> tuple[tuple[str, ...], _Scripted | _LLMAgent]:
    """The task names and the agent; every bad name fails here, as a WebRunError."""
    try:
        spec = load_web_run(store, options.resume) if options.resume is not None else None
        requested = spec.tasks if spec else options.tasks
        tasks = tuple(requested) if requested else tuple(suite_tasks(options.suite))
        unknown = sorted(set(tasks) - set(miniwob_task_names()))
        if unknown:
            raise KeyError(f"unknown task(s): {', '.join(unknown)}")
        if not (spec.config.strategy if spec else options.strategy):
            return tasks, _Scripted(make_agent_factory(options.agent))
        config = spec.config if spec else WebAgentConfig(
            strategy=options.strategy, budget_tokens=options.budget_tokens,
            max_steps=options.max_steps, max_attempts=options.max_attempts,
            search=options.search, simulations=options.simulations, policy=options.policy,
            expand=options.expand, judge=options.judge, judge_orders=options.judge_orders,
            judge_ranker=options.judge_ranker,
            world_model=options.world_model)
        make_router(config.strategy, search=config.search,  # bad names fail here
                    policy=config.policy or None)
        check_roles(config)
        clients = connect_clients(options.llm_urls, options.world_model_urls,
                                  options.verifier_urls)
        check_servers(clients.distinct())  # LLMError, a RuntimeError
    except (KeyError, ValueError, ModuleNotFoundError, RuntimeError) as e:  # PolicyError too
        raise WebRunError(str(e.args[0]) if e.args else repr(e)) from e
    return tasks, _LLMAgent(config, clients, spec)


async def _run_agent(options: WebRunOptions, store: TraceStore, agent: _LLMAgent,
                     tasks: Sequence[str], seeds: Sequence[int], on_episode: OnEpisode
                     ) -> WebRunResult:
    """The LLM agent through the graph; a resumed run keeps its suite, parallelism and name."""
    spec = agent.spec
    return await run_web_agent(
        store, tasks=tasks, seeds=seeds, clients=agent.clients, config=agent.config,
        suite=spec.suite if spec else "" if options.tasks else options.suite,
        parallel=spec.parallel if spec else options.parallel,
        name=spec.name if spec else options.name,
        checkpoint_db=checkpoint_path(options.db_url),
        resume=(spec.run_id, spec.plan) if spec else None, on_episode=on_episode)
