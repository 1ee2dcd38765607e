"""`worldplan web`: run an agent on a web-task suite in a real browser, traces stored.

    worldplan web --suite miniwob-dev --agent oracle --seeds 5
    worldplan web --task click-test --task enter-text --agent random --seeds 3 --parallel 2
    worldplan web --suite miniwob-dev --strategy search --search mcts --llm-url URL
    worldplan web --resume RUN_ID --llm-url URL      # an interrupted LLM agent run

A thin command over `agent.runs.web_scripted.run_web`: it resolves the tasks and the agent, shows
progress, and prints the per-task success table (also stored in the run's config). With
`--agent oracle`, tasks without an oracle solver are skipped (and listed). Unknown suites,
tasks or agents are one red line and exit code 1. LLM agent runs checkpoint every graph step
(agent.runs.web_resume.checkpoint_path), so `--resume` continues their interrupted episodes.
"""

from __future__ import annotations

import asyncio
import sys

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from worldplan.agent.cli.app import app
from worldplan.traces.store import TraceStore, default_db_url, make_engine

DB_HELP = ("Trace database: a file path or SQLAlchemy URL "
           "(default $WORLDPLAN_DB or runs/worldplan.db).")


def _err(message: str) -> None:
    Console(stderr=True, highlight=False).print(Text(f"error: {message}", style="red"))


@app.command()
def web(
    suite: str = typer.Option("miniwob-dev", help="Task suite: miniwob-dev or miniwob-all."),
    task: list[str] = typer.Option(None, "--task", help="Run these tasks instead of a suite."),
    agent: str = typer.Option("oracle", help="Agent: oracle or random."),
    strategy: str = typer.Option("", help="LLM agent through the graph instead of --agent: "
                                 "reactive|best-of-n|revise|search|compute-optimal."),
    budget: int = typer.Option(400, help="LLM agent: generated tokens per episode (0: none)."),
    search: str = typer.Option("beam", help="LLM agent: tree search of branching steps: "
                               "beam|mcts."),
    simulations: int = typer.Option(4, min=1, help="LLM agent: MCTS simulations a step."),
    policy: str = typer.Option("", help="LLM agent, compute-optimal: web policy file "
                               "(default: the bundled prior agent/policies/web_prior.json)."),
    resume: int = typer.Option(None, help="LLM agent: resume this interrupted run (its "
                               "tasks, seeds and settings; finished episodes are kept)."),
    llm_url: list[str] = typer.Option([], help="LLM agent: model server URL (all roles)."),
    world_model_url: list[str] = typer.Option([], help="LLM agent: world-model server URL."),
    verifier_url: list[str] = typer.Option([], help="LLM agent: verifier server URL."),
    seeds: int = typer.Option(5, min=1, help="Episodes per task (seeds start..start+N-1)."),
    seed_start: int = typer.Option(0, help="First seed."),
    parallel: int = typer.Option(2, min=1, help="Episodes at once (browser contexts)."),
    max_steps: int = typer.Option(30, min=1, help="Steps per episode before truncation."),
    max_attempts: int = typer.Option(3, min=1, help="Attempts per episode on browser crash."),
    name: str = typer.Option("", help="Run name in the trace database."),
    db: str = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Run an agent on MiniWoB++ tasks in Chromium; store runs, episodes and steps."""
    from worldplan.agent.runs.web_scripted import run_web
    from worldplan.agent.web.scripted import make_agent_factory
    from worldplan.envs.web.core import EnvConfig
    from worldplan.envs.web.oracles import ORACLES
    from worldplan.envs.web.tasks.registry import miniwob_task_names, suite_tasks

    store = TraceStore(make_engine(db or default_db_url()))
    spec = None
    try:
        if resume is not None:
            from worldplan.agent.runs.web_resume import load_web_run

            spec = load_web_run(store, resume)
            strategy, task = spec.config.strategy, spec.tasks
        names = list(task) if task else suite_tasks(suite)
        unknown = sorted(set(names) - set(miniwob_task_names()))
        if unknown:
            raise KeyError(f"unknown task(s): {', '.join(unknown)}")
        if strategy:
            from worldplan.agent.web.config import WebAgentConfig, connect_clients
            from worldplan.agent.web.router import make_router

            config = spec.config if spec else WebAgentConfig(
                strategy=strategy, budget_tokens=budget or None, max_steps=max_steps,
                max_attempts=max_attempts, search=search, simulations=simulations,
                policy=policy)
            make_router(config.strategy, search=config.search,  # bad names fail here
                            policy=config.policy or None)
            clients = connect_clients(llm_url, world_model_url, verifier_url)
        else:
            factory = make_agent_factory(agent)
    except (KeyError, ValueError, ModuleNotFoundError, RuntimeError) as e:  # PolicyError too
        _err(str(e.args[0]) if e.args else repr(e))
        raise typer.Exit(1) from e
    console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
    if agent == "oracle" and not strategy:
        skipped = [n for n in names if n not in ORACLES]
        names = [n for n in names if n in ORACLES]
        if skipped:
            console.print(f"no oracle for {len(skipped)} task(s), skipped: {', '.join(skipped)}")
    if not names:
        _err("no tasks to run")
        raise typer.Exit(1)
    seed_list = spec.seeds if spec else list(range(seed_start, seed_start + seeds))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=not sys.stdout.isatty()) as progress:
        bar = progress.add_task("episodes", total=len(names) * len(seed_list))
        if strategy:
            from worldplan.agent.runs.web_agent import run_web_agent
            from worldplan.agent.runs.web_resume import checkpoint_path

            plan = (spec.run_id, spec.plan) if spec else None
            if spec:
                progress.advance(bar, len(spec.plan.finished))
            result = asyncio.run(run_web_agent(
                store, tasks=names, seeds=seed_list, clients=clients,
                suite=spec.suite if spec else "" if task else suite, config=config,
                parallel=spec.parallel if spec else parallel, name=spec.name if spec else name,
                checkpoint_db=checkpoint_path(db or default_db_url()), resume=plan,
                on_episode=lambda o: progress.advance(bar)))
        else:
            result = asyncio.run(run_web(
                store, tasks=names, seeds=seed_list, make_agent=factory, agent_name=agent,
                suite="" if task else suite, parallel=parallel, max_attempts=max_attempts,
                env_config=EnvConfig(max_steps=max_steps), name=name,
                on_episode=lambda o: progress.advance(bar)))
    table = Table("task", "category", "success", "mean reward", "mean steps", "retried",
                  "failed", title=f"run {result.run_id}: {strategy or agent} on "
                                  f"{len(names)} task(s) x {len(seed_list)} seed(s)")
    for r in result.summary:
        table.add_row(r.task, r.category, f"{r.successes}/{r.episodes}",
                      f"{r.mean_reward:.2f}", f"{r.mean_steps:.1f}", str(r.retried),
                      str(r.failed))
    total = sum(r.successes for r in result.summary)
    n = sum(r.episodes for r in result.summary)
    console.print(table)
    console.print(f"success {total}/{n} ({total / n:.0%}); browser restarts: "
                  f"{result.browser_restarts}; traces: run {result.run_id} in "
                  f"{db or default_db_url()}")
