"""`worldplan math`: run a test-time-compute strategy over a math dataset slice.

A thin command, a plain function registered in agent.cli.app: it parses the options into a
`MathCommandOptions` and delegates to agent.runs.math_command.run_math_command (which builds
the client, the verifier, the grader and the trace store once and runs
agent.runs.math.run_math), showing a progress bar and a final table (accuracy per level and
overall, tokens, FLOPs, wall time). The bar is drawn only once the database, the dataset, the
policy and the server have been checked; every expected failure is one red line on stderr
and exit code 1 (agent.cli.common.exit_on_failure).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from worldplan.agent.cli.common import exit_on_failure
from worldplan.agent.math.solvers import SOLVERS
from worldplan.agent.runs.math import MathRunConfig, MathRunSummary, ProblemOutcome
from worldplan.agent.runs.math import Progress as OnProblem
from worldplan.agent.runs.math_command import (
    MATH_ERRORS,
    MathCommandOptions,
    VerifierOptionError,
    run_math_batch_command,
    run_math_command,
)
from worldplan.worldmodel.math.verifier import AGGREGATIONS

console = Console()


def parse_params(items: list[str]) -> dict[str, Any]:
    """`key=value` strategy parameters; values read as int, float or text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r}: use key=value, e.g. n_beams=4")
        value: Any = raw.strip()
        for cast in (int, float):
            try:
                value = cast(raw)
                break
            except ValueError:
                continue
        out[key.strip()] = value
    return out


def math_command(
    dataset: str = typer.Option("math500", help="math500 | math-train | a .jsonl path | a "
                                "Hugging Face dataset name."),
    fields: str = typer.Option("", help="Field map for other JSONL: 'gsm8k' or "
                               "'problem=question,answer=answer,delimiter=####'."),
    limit: int = typer.Option(50, help="Problems to solve (0 = all)."),
    offset: int = typer.Option(0, help="First problem's index."),
    strategy: str = typer.Option("best_of_n", help=f"One of: {', '.join(SOLVERS)}."),
    budget: int = typer.Option(16, help="Budget per problem in generation-equivalents "
                               "(Snell et al.'s unit: beam search with N beams costs N; "
                               "0 = none)."),
    budget_tokens: int = typer.Option(0, help="Budget per problem in tokens: uncached prompt "
                                      "+ completion (0 = none)."),
    budget_flops: float = typer.Option(0.0, help="Budget per problem in FLOPs, 2 x parameters "
                                       "x uncached tokens (0 = none)."),
    verifier_cost: str = typer.Option("free", help="free (as in the paper: judgements draw "
                                      "nothing from the budget) | charged."),
    seed: int = typer.Option(0, help="Sampling seed."),
    param: list[str] = typer.Option([], "--param", "-p", help="Strategy parameter key=value "
                                    "(n, selection, chains, per_chain, n_beams, width, ...)."),
    max_tokens: int = typer.Option(512, help="Max tokens of a full solution."),
    step_max_tokens: int = typer.Option(160, help="Max tokens of one step (beam search)."),
    temperature: float = typer.Option(0.8, help="Sampling temperature."),
    aggregation: str = typer.Option("last", help=f"Step scores: {', '.join(AGGREGATIONS)}."),
    verifier: str = typer.Option("generative", help="generative | prm | none | "
                                 "learned:FILE (`worldplan verifier fit`)."),
    prm_url: str = typer.Option("", help="URL of a vLLM-served PRM (with --verifier prm)."),
    embed_url: str = typer.Option("", help="URL of a pooling server of the model "
                                  "(`worldplan serve --embed`), for a learned verifier "
                                  "that reads embeddings."),
    concurrency: int = typer.Option(8, help="Problems solved at once (batched)."),
    llm_url: list[str] = typer.Option([], help="Model server URL (repeat for several)."),
    model: str = typer.Option("", help="Served model name (default: ask the server)."),
    db: str = typer.Option("", help="Trace database URL or path (default $WORLDPLAN_DB)."),
    resume: int = typer.Option(0, help="Resume this run id: skip its finished problems."),
    policy: str = typer.Option("", help="Policy JSON for --strategy compute-optimal "
                               "(default: the bundled agent/policies/default.json)."),
    budget_mode: str = typer.Option("problem", help="problem: --budget per problem | batch: "
                                    "an average of --budget over the slice, allocated by "
                                    "predicted difficulty (compute-optimal)."),
    cap: int = typer.Option(0, help="Batch mode: most any problem gets (0 = 2 x --budget)."),
    agree: float = typer.Option(0.0, help="Batch mode: stop best-of-N sampling once its "
                                "answers agree with this probability (0 = never)."),
) -> None:
    """Solve math problems with a test-time-compute strategy; every search is traced."""
    if strategy not in SOLVERS:
        raise typer.BadParameter(f"unknown strategy {strategy!r}: {', '.join(SOLVERS)}")
    if aggregation not in AGGREGATIONS:
        raise typer.BadParameter(f"unknown aggregation {aggregation!r}")
    if verifier_cost not in ("free", "charged"):
        raise typer.BadParameter(f"--verifier-cost {verifier_cost!r}: use free or charged")
    config = MathRunConfig(
        dataset=dataset, fields=fields or None, offset=offset, limit=limit or None,
        strategy=strategy, budget_generations=budget or None,
        params=parse_params(param) | ({"policy": str(Path(policy).resolve())} if policy else {}),
        budget_tokens=budget_tokens or None, budget_flops=budget_flops or None,
        verifier_charged=verifier_cost == "charged", seed=seed, max_tokens=max_tokens,
        step_max_tokens=step_max_tokens, temperature=temperature, aggregation=aggregation,
        concurrency=concurrency)
    options = MathCommandOptions(config, verifier=verifier, prm_url=prm_url,
                                 llm_urls=tuple(llm_url), model=model or None, db=db or None,
                                 resume=resume or None, embed_url=embed_url)
    if budget_mode not in ("problem", "batch"):
        raise typer.BadParameter(f"--budget-mode {budget_mode!r}: use problem or batch")
    if budget_mode == "batch":
        if strategy != "compute-optimal" or not budget:
            raise typer.BadParameter("--budget-mode batch runs --strategy compute-optimal "
                                     "with --budget as the average")
        with exit_on_failure((*MATH_ERRORS, ValueError), db=db or None):
            batch = run_math_batch_command(options, average=float(budget),
                                           cap=cap or 2 * budget, agree=agree or None)
        predicted = batch.predicted_accuracy
        console.print(f"batch run {batch.run_id}: {len(batch.outcomes)} problems, accuracy "
                      f"{batch.accuracy:.3f} (the policy's rows predicted "
                      f"{'n/a' if predicted is None else f'{predicted:.3f}'}), mean spend "
                      f"{batch.mean_spent:.2f} of an average {budget} generation-equivalents")
        for o in batch.outcomes:
            console.print(f"  {o.uid}: bin {o.bin}, allocated {o.allocated}, spent "
                          f"{o.spent}, {o.strategy}, {'right' if o.correct else 'wrong'}")
        return
    with exit_on_failure(MATH_ERRORS, db=db or None):
        try:
            summary = run_math_command(options, _progress_bar)
        except VerifierOptionError as e:
            raise typer.BadParameter(str(e)) from e
    console.print(summary_table(summary))


@contextmanager
def _progress_bar() -> Iterator[OnProblem]:
    """The bar shown while problems are solved; gives the per-problem callback."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("solving", total=None)

        def on_problem(o: ProblemOutcome, done: int, total: int) -> None:
            mark = "skip" if o.skipped else ("ok" if o.correct else "x")
            bar.update(task, completed=done, total=total, description=f"{o.uid[-28:]} {mark}")

        yield on_problem


def summary_table(s: MathRunSummary) -> Table:
    table = Table(title=f"run {s.run_id}: {s.strategy}")
    for col in ("level", "problems", "accuracy"):
        table.add_column(col)
    for level, st in s.per_level.items():
        table.add_row(level, str(st.n), f"{st.accuracy:.3f}")
    table.add_row("all", str(s.n), f"{s.accuracy:.3f}", end_section=True)
    table.add_row("completion tokens", str(s.completion_tokens), "")
    table.add_row("prompt tokens", str(s.prompt_tokens), "")
    table.add_row("generation-equivalents (verifier)",
                  f"{s.generations} ({s.verifier_generations})", "")
    table.add_row("tokens: uncached prompt + completion", str(s.tokens), "")
    table.add_row("FLOPs", f"{s.flops:.3g}" if s.flops else "unknown", "")
    table.add_row("wall time (s)", f"{s.wall_time_s:.1f}", "")
    return table
