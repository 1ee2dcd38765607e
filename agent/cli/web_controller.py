"""`worldplan web-controller collect` and `worldplan web-controller fit`: the web agent's
per-step controller, fitted from counterfactual rollouts instead of set by hand.

    worldplan web-controller collect --out runs/web_cf.jsonl --suite miniwob-dev \\
        --limit 20 --seeds 1 --states 2 --arms "act;revise:rounds=1;branch:depth=1,width=3"
    worldplan web-controller fit runs/web_cf.jsonl -o agent/policies/web_fitted.json \
        --allowances 1,500,1000,2000 --unit total
    worldplan web --strategy compute-optimal --policy agent/policies/web_fitted.json ...

Thin commands, plain functions registered in agent.cli.app: each builds its options and
calls agent.runs.web_controller_command. `collect` appends to its file and skips what the
file already holds (rerun the same command to resume); `fit` prints the policy table and
the leave-task-out cross-validation. Errors are one red line and exit code 1
(agent.cli.common.exit_on_failure).
"""

from __future__ import annotations

import typer
from rich.console import Console

from worldplan.agent.cli.common import DB_HELP, exit_on_failure
from worldplan.agent.cli.control import parse_budgets, policy_table
from worldplan.agent.runs.web_controller_command import (
    CollectOptions,
    FitOptions,
    WebControllerError,
    run_collect_command,
    run_fit_command,
)
from worldplan.agent.runs.web_counterfactual import CounterfactualConfig
from worldplan.agent.web.arms import DEFAULT_ARMS
from worldplan.agent.web.config import WebAgentConfig
from worldplan.agent.web.controller_fit import WebFitSettings, cv_table
from worldplan.agent.web.counterfactual_rows import ArmRecord, Record
from worldplan.traces.engine import default_db_url

console = Console()
AGENT = WebAgentConfig()  # the web agent's defaults
ERRORS = (WebControllerError, OSError)


def collect_command(
    out: str = typer.Option(..., "--out", help="Counterfactual file (JSON Lines, appended; "
                            "rerun the same command to resume)."),
    suite: str = typer.Option("miniwob-dev", help="Task suite: miniwob-dev or miniwob-all."),
    task: list[str] = typer.Option(None, "--task", help="These tasks instead of a suite."),
    limit: int = typer.Option(0, help="The first N tasks of the suite (0: all)."),
    seeds: int = typer.Option(1, min=1, help="Episodes per task (seeds start..start+N-1)."),
    seed_start: int = typer.Option(0, help="First seed."),
    states: int = typer.Option(2, min=1, help="Sampled steps per base episode."),
    arms: str = typer.Option(DEFAULT_ARMS, help="Route arms: 'route:key=v,key=v@allowance;"
                             "...' (act, revise, branch; allowance in tokens, default the "
                             "plan's worst case)."),
    n: int = typer.Option(3, min=1, help="Proposals at a sampled step (its features)."),
    sample_seed: int = typer.Option(0, help="Seed of the sampled steps."),
    max_steps: int = typer.Option(8, min=1, help="Steps per episode before truncation."),
    budget: int = typer.Option(400, help="Base episode: generated tokens (0: no limit)."),
    continuation_budget: int = typer.Option(0, help="After an arm: generated tokens "
                                            "(0: no limit)."),
    proposer_tokens: int = typer.Option(AGENT.proposer_tokens,
                                        help="Max tokens of a proposed action."),
    world_model_tokens: int = typer.Option(AGENT.world_model_tokens,
                                           help="Max tokens of a predicted change."),
    llm_url: list[str] = typer.Option([], help="Model server URL (all roles)."),
    world_model_url: list[str] = typer.Option([], help="World-model server URL."),
    verifier_url: list[str] = typer.Option([], help="Verifier server URL."),
    db: str = typer.Option(None, "--db", help=DB_HELP),
    no_trace: bool = typer.Option(False, help="Do not store the LLM calls in a trace DB."),
    parallel: int = typer.Option(1, min=1, help="Episodes (pages) at once."),
) -> None:
    """Counterfactual outcomes of each route arm at sampled steps of reactive episodes."""
    agent = WebAgentConfig(strategy="reactive", budget_tokens=budget or None,
                           max_steps=max_steps, n=n, proposer_tokens=proposer_tokens,
                           world_model_tokens=world_model_tokens)
    config = CounterfactualConfig(arms=arms, states=states, n=n, sample_seed=sample_seed,
                                  continuation_tokens=continuation_budget or None, agent=agent)
    db_url = None if no_trace else db or default_db_url()
    options = CollectOptions(out, suite, tuple(task or ()), limit or None,
                             tuple(range(seed_start, seed_start + seeds)), config,
                             tuple(llm_url), tuple(world_model_url), tuple(verifier_url),
                             db_url, parallel)
    with exit_on_failure(ERRORS, db=db_url):
        summary = run_collect_command(options, on_record=_show)
    if summary.unread:
        console.print(f"[yellow]{summary.unread}[/yellow]")
    written = ", ".join(f"{v} {k}" for k, v in sorted(summary.written.items())) or "nothing"
    console.print(f"wrote {written} record(s) to {out}; {summary.kept} (state, arm) record(s) "
                  f"were already there; {summary.unrestored} restored page(s) differed from "
                  f"their base episode's")


def _show(record: Record) -> None:
    if isinstance(record, ArmRecord):
        console.print(f"{record.task} seed {record.seed} step {record.step} {record.arm}: "
                      f"{'success' if record.success else 'failure'}, "
                      f"{record.arm_completion_tokens} arm tokens, {record.wall_s:.0f} s")
    else:
        console.print(f"{record.task} seed {record.seed}: {record.kind} recorded")


def fit_command(
    rows: str = typer.Argument(..., help="Counterfactual file (web-controller collect)."),
    output: str = typer.Option("web_policy.json", "--output", "-o", help="Policy to write."),
    allowances: str = typer.Option("1,500,1000,2000", help="Step allowances of the table "
                                   "(tokens of --unit)."),
    unit: str = typer.Option("total", help="Arm tokens compared with the allowances: total "
                             "(uncached prompt + completion, the live budget's unit when it "
                             "counts prompts) | completion."),
    folds: int = typer.Option(0, help="Cross-validation folds over tasks (0: one per task)."),
    l2: float = typer.Option(1.0, help="L2 penalty of the difficulty predictor."),
    seed: int = typer.Option(0, help="Seed of the bootstrap."),
    keep_unrestored: bool = typer.Option(False, help="Keep states whose restored page "
                                         "differed from the base episode's."),
    no_cv: bool = typer.Option(False, help="Skip the cross-validation."),
    note: str = typer.Option("", help="Free text stored in the policy's metadata."),
) -> None:
    """Fit the (difficulty bin, step allowance) -> route table and the difficulty predictor."""
    settings = WebFitSettings(tuple(parse_budgets(allowances)), unit, folds, l2, seed,
                              keep_unrestored=keep_unrestored)
    with exit_on_failure(ERRORS):
        fitted = run_fit_command(FitOptions(rows, output, settings, note, not no_cv))
    if fitted.unread:
        console.print(f"[yellow]{fitted.unread}[/yellow]")
    console.print(policy_table(fitted.policy))
    if "cv" in fitted.policy.metadata:
        console.print(cv_table(fitted.policy.metadata["cv"]), highlight=False)
    console.print(f"web policy written to {fitted.path}")
