"""What `worldplan web-controller collect` and `worldplan web-controller fit` run.

`run_collect_command(options, on_record)` resolves the tasks (a suite or named tasks, the
first `limit` of them), checks the arms, connects the three roles' clients and checks
that the servers answer (agent.runs.preflight), then collects on the MiniWoB++ pages in
one browser (agent.runs.web_counterfactual), traced in the trace database unless told not.
`run_fit_command(options)` reads the counterfactual file, fits the web policy
(agent.web.controller_fit) and writes it. Everything that keeps a command from starting is
a `WebControllerError` with a one-line message, raised before any episode.
Not handled: option parsing and printing (agent.cli.web_controller).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from worldplan.agent.control.policy import Policy
from worldplan.agent.runs.preflight import check_servers
from worldplan.agent.runs.web_counterfactual import (
    Collection,
    CounterfactualConfig,
    collect_counterfactuals,
)
from worldplan.agent.runs.web_envs import MiniWoBEnvs
from worldplan.agent.web.arms import parse_arms
from worldplan.agent.web.config import connect_clients
from worldplan.agent.web.controller_fit import WebFitSettings, fit_web_policy
from worldplan.agent.web.counterfactual_rows import CounterfactualFile, Record
from worldplan.agent.web.router import load_web_policy
from worldplan.envs.web.tasks.registry import miniwob_task_names, suite_tasks
from worldplan.traces.engine import make_engine
from worldplan.traces.store import TraceStore


class WebControllerError(Exception):
    """The options cannot be run; the message is one line saying why."""


@dataclass(frozen=True)
class CollectOptions:
    """Every option of `worldplan web-controller collect` (its defaults are the command's)."""

    out: str  # the counterfactual file (JSON Lines, appended to)
    suite: str  # miniwob-dev | miniwob-all
    tasks: tuple[str, ...]  # these tasks instead of the suite
    limit: int | None  # the first `limit` tasks (None: all)
    seeds: tuple[int, ...]
    config: CounterfactualConfig
    llm_urls: tuple[str, ...] = ()
    world_model_urls: tuple[str, ...] = ()
    verifier_urls: tuple[str, ...] = ()
    db_url: str | None = None  # trace database (None: no trace)
    parallel: int = 1  # episodes (pages) at once


@dataclass(frozen=True)
class FitOptions:
    """Every option of `worldplan web-controller fit`."""

    rows: str  # the counterfactual file
    output: str  # the web policy JSON to write
    settings: WebFitSettings
    note: str = ""
    cv: bool = True


@dataclass(frozen=True)
class Fitted:
    policy: Policy
    path: Path
    unread: str  # the file's lines that were not whole records ('' if none)


def resolve_tasks(suite: str, tasks: tuple[str, ...], limit: int | None) -> list[str]:
    names = list(tasks) if tasks else suite_tasks(suite)
    unknown = sorted(set(names) - set(miniwob_task_names()))
    if unknown:
        raise KeyError(f"unknown task(s): {', '.join(unknown)}")
    return names[:limit] if limit else names


def run_collect_command(options: CollectOptions,
                        on_record: Callable[[Record], None] | None = None) -> Collection:
    try:
        tasks = resolve_tasks(options.suite, options.tasks, options.limit)
        parse_arms(options.config.arms)
        clients = connect_clients(options.llm_urls, options.world_model_urls,
                                  options.verifier_urls)
        check_servers(clients.distinct())
    except (KeyError, ValueError, RuntimeError) as e:  # LLMError is a RuntimeError
        raise WebControllerError(str(e.args[0]) if e.args else repr(e)) from e
    store = TraceStore(make_engine(options.db_url)) if options.db_url else None
    envs = MiniWoBEnvs(tasks, None, options.config.agent.max_steps)
    return asyncio.run(collect_counterfactuals(
        options.out, tasks=tasks, seeds=options.seeds, clients=clients,
        config=options.config, envs=envs, store=store, on_record=on_record,
        parallel=options.parallel))


def run_fit_command(options: FitOptions) -> Fitted:
    if not Path(options.rows).exists():
        raise WebControllerError(f"no counterfactual file {options.rows}: collect it with "
                                 "`worldplan web-controller collect --out FILE`")
    collected = CounterfactualFile(options.rows).read()
    try:
        policy = fit_web_policy(collected, options.settings, note=options.note, cv=options.cv)
    except (KeyError, ValueError) as e:
        raise WebControllerError(f"{options.rows}: {e}") from e
    policy.metadata["rows"] = options.rows
    path = policy.save(options.output)
    load_web_policy(path)  # what the web agent will load: it must accept it
    return Fitted(policy, path, collected.report())
