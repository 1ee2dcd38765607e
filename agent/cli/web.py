"""`worldplan web`: run an agent on a web-task suite in a real browser, traces stored.

    worldplan web --suite miniwob-dev --agent oracle --seeds 5
    worldplan web --task click-test --task enter-text --agent random --seeds 3 --parallel 2
    worldplan web --suite miniwob-dev --strategy search --search mcts --llm-url URL
    worldplan web --resume RUN_ID --llm-url URL      # an interrupted LLM agent run

A thin command, a plain function registered in agent.cli.app: it parses the options into a
`WebRunOptions` and delegates to agent.runs.web_command.run_web_command (which resolves the
tasks, the agent or the LLM agent's clients, and a run to resume), shows progress, and prints
the per-task success table (also stored in the run's config). With `--agent oracle`, tasks
without an oracle solver are skipped (and listed), and a report says which tasks the action
language solves (the oracle's reward 1.0 on every seed, on some, on none, no oracle).
Unknown suites, tasks or agents, a model server that does not answer, and an unusable trace
database are one red line and exit code 1 (agent.cli.common.exit_on_failure). LLM agent
runs checkpoint every graph step (agent.runs.web_resume.checkpoint_path), so `--resume`
continues their interrupted episodes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from worldplan.agent.cli.common import DB_HELP, exit_on_failure
from worldplan.agent.runs.web_command import (
    OnEpisode,
    WebCommandResult,
    WebRunError,
    WebRunOptions,
    run_web_command,
)
from worldplan.traces.engine import default_db_url, make_engine
from worldplan.traces.store import TraceStore


def web_command(
    suite: str = typer.Option("miniwob-dev", help="Task suite: miniwob-dev or miniwob-all."),
    task: list[str] = typer.Option(None, "--task", help="Run these tasks instead of a suite."),
    agent: str = typer.Option("oracle", help="Agent: oracle or random."),
    strategy: str = typer.Option("", help="LLM agent through the graph instead of --agent: "
                                 "reactive|majority|best-of-n|revise|search|compute-optimal."),
    budget: int = typer.Option(4000, help="LLM agent: total tokens per episode, uncached "
                               "prompt + completion, all roles (0: none)."),
    search: str = typer.Option("beam", help="LLM agent: tree search of branching steps: "
                               "beam|mcts."),
    simulations: int = typer.Option(4, min=1, help="LLM agent: MCTS simulations a step."),
    expand: int = typer.Option(0, min=0, help="LLM agent, best-of-n and search: add up to "
                               "this many of the page's one-gesture actions (clicks, checks) "
                               "to the proposals as roots the judge scores."),
    judge: str = typer.Option("llm", help="LLM agent: llm (the verifier's yes/no on each "
                              "candidate), choice (one question over all of a step's "
                              "candidates; best-of-n only) or ranker (--judge-ranker alone, "
                              "no judge call)."),
    judge_orders: int = typer.Option(1, min=1, help="LLM agent, --judge choice: ask over "
                                     "this many orders of the candidates and average (the "
                                     "judge's preference for a letter cancels)."),
    judge_ranker: str = typer.Option("", help="LLM agent, --judge choice or ranker: a fitted "
                                     "action ranker rescoring the candidates with the page's "
                                     "facts (agent/policies/web_ranker.json; "
                                     "web_ranker_features.json for --judge ranker)."),
    world_model: str = typer.Option("llm", help="LLM agent: llm (imagine each candidate's "
                                    "change), local (fills, ticks and selections computed "
                                    "from the page, the LLM asked for the rest) or none "
                                    "(judge the actions alone)."),
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
    db_url = db or default_db_url()
    options = WebRunOptions(
        suite=suite, tasks=tuple(task or ()), agent=agent, strategy=strategy,
        budget_tokens=budget or None, search=search, simulations=simulations, policy=policy,
        expand=expand, judge=judge, judge_orders=judge_orders, judge_ranker=judge_ranker,
        world_model=world_model,
        resume=resume, llm_urls=tuple(llm_url),
        world_model_urls=tuple(world_model_url),
        verifier_urls=tuple(verifier_url), seeds=seeds, seed_start=seed_start,
        parallel=parallel, max_steps=max_steps, max_attempts=max_attempts, name=name,
        db_url=db_url)
    console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
    with exit_on_failure((WebRunError,), db=db_url):
        store = TraceStore(make_engine(db_url))
        result = run_web_command(options, store, _Display(console))
    console.print(result_table(result))
    if result.label == "oracle":
        console.print(solvable_report(result))
    total = sum(r.successes for r in result.run.summary)
    n = sum(r.episodes for r in result.run.summary)
    console.print(f"success {total}/{n} ({total / n:.0%}); browser restarts: "
                  f"{result.run.browser_restarts}; traces: run {result.run.run_id} in {db_url}")


class _Display:
    """The CLI's WebDisplay: a line for the skipped tasks, a progress bar over the episodes."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def skipped(self, tasks: Sequence[str]) -> None:
        self.console.print(f"no oracle for {len(tasks)} task(s), skipped: {', '.join(tasks)}")

    @contextmanager
    def episodes(self, total: int, finished: int) -> Iterator[OnEpisode]:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      console=self.console, transient=not sys.stdout.isatty()) as progress:
            bar = progress.add_task("episodes", total=total)
            if finished:
                progress.advance(bar, finished)
            yield lambda outcome: progress.advance(bar)


def result_table(result: WebCommandResult) -> Table:
    """Success, reward, steps, retries and failures per task."""
    table = Table("task", "category", "success", "mean reward", "mean steps", "retried",
                  "failed", title=f"run {result.run.run_id}: {result.label} on "
                                  f"{len(result.tasks)} task(s) x {len(result.seeds)} seed(s)")
    for r in result.run.summary:
        table.add_row(r.task, r.category, f"{r.successes}/{r.episodes}",
                      f"{r.mean_reward:.2f}", f"{r.mean_steps:.1f}", str(r.retried),
                      str(r.failed))
    return table


def solvable_report(result: WebCommandResult) -> str:
    """Which tasks the action language solves: the oracle's reward 1.0 on every seed, on
    some seeds, on none, and the tasks no oracle exists for."""
    rows = result.run.summary
    full = sorted(r.task for r in rows if r.successes == r.episodes)
    some = sorted(f"{r.task} ({r.successes}/{r.episodes})" for r in rows
                  if 0 < r.successes < r.episodes)
    none = sorted(r.task for r in rows if r.successes == 0)
    total = len(rows) + len(result.skipped)
    return "\n".join([
        f"the action language solves {len(full)} of {total} task(s) on every seed "
        f"({len(result.seeds)}): {', '.join(full) or '-'}",
        f"on some seeds: {', '.join(some) or '-'}",
        f"on none: {', '.join(none) or '-'}",
        f"no oracle ({len(result.skipped)}): {', '.join(sorted(result.skipped)) or '-'}"])
