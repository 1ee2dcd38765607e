"""`worldplan calibrate` and `worldplan fit-policy`: the compute-optimal controller's data.

Thin commands, plain functions registered in agent.cli.app: each builds its options object
and calls one function of agent.runs.control_command. `calibrate` runs the grid (one run of
kind "calibrate", built by agent.runs.calibration.calibrate); `fit-policy` reads calibration
runs (agent.control.fitting.fit_from_runs) and writes a policy JSON (and, with
--predictor-out, the learned difficulty predictor on its own). Errors are one red line and
exit code 1 (agent.cli.common.exit_on_failure). Use the policy with
`worldplan math --strategy compute-optimal --policy F`.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from worldplan.agent.cli.common import exit_on_failure
from worldplan.agent.control.policy import Policy
from worldplan.agent.runs.calibration import DEFAULT_GRID, CalibrationConfig, CalibrationSummary
from worldplan.agent.runs.control_command import (
    CALIBRATE_ERRORS,
    FIT_POLICY_ERRORS,
    CalibrateOptions,
    FitPolicyOptions,
    run_calibrate_command,
    run_fit_policy_command,
)

console = Console()


def parse_budgets(spec: str) -> list[int]:
    try:
        budgets = sorted({int(b) for b in spec.split(",") if b.strip()})
    except ValueError as e:
        raise typer.BadParameter(f"{spec!r}: use comma-separated integers, e.g. 1,4,16") from e
    if not budgets or budgets[0] < 1:
        raise typer.BadParameter(f"{spec!r}: budgets must be positive integers")
    return budgets


def calibrate_command(
    dataset: str = typer.Option("math-train", help="math-train | math500 | a .jsonl path."),
    budgets: str = typer.Option("1,4,16", help="Budgets in generations per problem."),
    limit: int = typer.Option(20, help="Problems to calibrate on (0 = all)."),
    offset: int = typer.Option(0, help="First problem's index."),
    grid: str = typer.Option(DEFAULT_GRID, help="Strategy grid: 'name:key=v,key=v;name...'."),
    oracle_samples: int = typer.Option(4, help="K samples per problem for pass@1."),
    probe_n: int = typer.Option(2, help="Probe samples (judged) per problem."),
    seed: int = typer.Option(0, help="Sampling seed."),
    max_tokens: int = typer.Option(512, help="Max tokens of a full solution."),
    step_max_tokens: int = typer.Option(160, help="Max tokens of one step (beam search)."),
    temperature: float = typer.Option(0.8, help="Sampling temperature."),
    concurrency: int = typer.Option(8, help="Problems calibrated at once (batched)."),
    llm_url: list[str] = typer.Option([], help="Model server URL (repeat for several)."),
    model: str = typer.Option("", help="Served model name (default: ask the server)."),
    db: str = typer.Option("", help="Trace database URL or path (default $WORLDPLAN_DB)."),
    resume: int = typer.Option(0, help="Continue this calibration run (killed or failed) "
                               "with its own settings: its finished episodes are kept."),
) -> None:
    """Run the strategy grid over a dataset slice at several budgets; store it as a run."""
    config = CalibrationConfig(
        dataset=dataset, offset=offset, limit=limit or None, budgets=parse_budgets(budgets),
        grid=grid, oracle_samples=oracle_samples, probe_n=probe_n, seed=seed,
        max_tokens=max_tokens, step_max_tokens=step_max_tokens, temperature=temperature,
        concurrency=concurrency)
    options = CalibrateOptions(config, llm_urls=tuple(llm_url), model=model or None,
                               db=db or None, resume=resume or None)
    with exit_on_failure(CALIBRATE_ERRORS, db=db or None):
        summary = run_calibrate_command(
            options, progress=lambda uid, d, t: console.print(f"[{d}/{t}] {uid}"))
    console.print(calibration_table(summary))
    console.print(f"calibration run {summary.run_id}: fit a policy with "
                  f"`worldplan fit-policy {summary.run_id} -o policy.json`")


def calibration_table(s: CalibrationSummary) -> Table:
    budgets = sorted({b for per in s.accuracy.values() for b in per})
    table = Table(title=f"calibration run {s.run_id}: {s.problems} problems, "
                        f"{s.episodes} episodes (accuracy)")
    table.add_column("configuration")
    for b in budgets:
        table.add_column(f"B={b}")
    for cfg, per in s.accuracy.items():
        table.add_row(cfg, *[f"{per[b]:.2f}" if b in per else "" for b in budgets])
    return table


def fit_policy_command(
    run_ids: list[int] = typer.Argument(None, help="Calibration run ids (or --bank)."),
    bank: str = typer.Option("", help="Fit from this bank instead (`worldplan bank build`): "
                             "rows on the probe's predicted difficulty, as run."),
    probe_n: int = typer.Option(2, help="With --bank: probe samples."),
    output: str = typer.Option("policy.json", "--output", "-o", help="Policy JSON to write."),
    predictor_out: str = typer.Option("", help="Also write the learned predictor here."),
    folds: int = typer.Option(2, help="Cross-validation folds (with --bank: 5 if left 2)."),
    seed: int = typer.Option(0, help="Seed of the fold split."),
    no_predictor: bool = typer.Option(False, help="Do not fit the learned predictor."),
    note: str = typer.Option("", help="Free text stored in the policy's metadata."),
    db: str = typer.Option("", help="Trace database URL or path (default $WORLDPLAN_DB)."),
) -> None:
    """Fit the (difficulty bin, budget) -> strategy table from calibration runs or a bank."""
    if bool(run_ids) == bool(bank):
        raise typer.BadParameter("give calibration run ids or --bank, not both or neither")
    options = FitPolicyOptions(tuple(run_ids or ()), output=output,
                               predictor_out=predictor_out, folds=folds, seed=seed,
                               with_predictor=not no_predictor, note=note, db=db or None,
                               bank=bank or None, probe_n=probe_n)
    with exit_on_failure(FIT_POLICY_ERRORS, db=db or None):
        fitted = run_fit_policy_command(options)
    console.print(policy_table(fitted.policy))
    console.print(f"policy written to {fitted.path}")


def policy_table(p: Policy) -> Table:
    table = Table(title=f"policy: {p.metadata.get('fitted_on', '')}")
    for col in ("budget", "bin", "strategy", "params", "accuracy", "n", "note"):
        table.add_column(col)
    for e in p.entries:
        table.add_row(str(e.budget), "any" if e.bin is None else str(e.bin), e.strategy,
                      ",".join(f"{k}={v}" for k, v in e.params.items()),
                      "" if e.accuracy is None else f"{e.accuracy:.2f}", str(e.n), e.note)
    cv = p.metadata.get("cv", {}).get("per_budget", {})
    for budget, r in cv.items():
        shown = {k: v for k, v in r.items() if k != "n"}
        table.add_row(budget, "cv", " vs ".join(shown), "",
                      " vs ".join(str(v) for v in shown.values()), str(r.get("n", "")),
                      "held out")
    return table
