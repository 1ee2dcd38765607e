"""`worldplan bank build | embed | merge | eval`: sample banks, generated once, evaluated often.

Thin commands, plain functions registered in agent.cli.app under the `bank` group; each
builds its options and calls agent.runs.bank_command (build, merge) or agent.banks (eval).
Errors are one red line and exit code 1 (agent.cli.common.exit_on_failure).
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from worldplan.agent.banks.report import render
from worldplan.agent.cli.common import exit_on_failure
from worldplan.agent.runs.bank_build import BankConfig
from worldplan.agent.runs.bank_command import (
    BANK_ERRORS,
    BankBuildOptions,
    BankEmbedOptions,
    BankEvalOptions,
    run_bank_build,
    run_bank_embed,
    run_bank_eval,
    run_bank_merge,
)

console = Console()


def parse_shard(spec: str) -> tuple[int, int] | None:
    if not spec:
        return None
    try:
        i, n = (int(x) for x in spec.split("/"))
    except ValueError as e:
        raise typer.BadParameter(f"{spec!r}: use i/n, e.g. 0/2") from e
    if not 0 <= i < n:
        raise typer.BadParameter(f"{spec!r}: need 0 <= i < n")
    return (i, n)


def bank_build_command(
    out: str = typer.Option(..., "--out", "-o", help="Bank file (JSON Lines); continued "
                            "if it exists."),
    dataset: str = typer.Option("math-train", help="math-train | math500 | a .jsonl path."),
    sample: int = typer.Option(0, help="A seeded random sample of this many problems "
                               "(0: the dataset in order)."),
    offset: int = typer.Option(0, help="First problem's position in the slice."),
    limit: int = typer.Option(24, help="Problems (0 = all)."),
    shard: str = typer.Option("", help="Build shard i of n ('i/n'); merge with `bank merge`."),
    k: int = typer.Option(8, help="K samples per problem."),
    chains: int = typer.Option(4, help="P revision chains (chain j starts at sample j)."),
    length: int = typer.Option(4, help="L attempts per revision chain."),
    searches: str = typer.Option("beam:1,2,4,8;dvts:4,8",
                                 help="Searches to run once per problem, at these budgets "
                                      "(generation-equivalents)."),
    seed: int = typer.Option(0, help="Sampling seed."),
    max_tokens: int = typer.Option(512, help="Max tokens of a full solution."),
    temperature: float = typer.Option(0.8, help="Sampling temperature."),
    concurrency: int = typer.Option(4, help="Problems in flight."),
    llm_url: list[str] = typer.Option([], help="Model server URL."),
    db: str = typer.Option("", help="Trace database URL or path (default $WORLDPLAN_DB)."),
) -> None:
    """Generate samples, revision chains and searches once per problem into a bank."""
    config = BankConfig(dataset=dataset, sample=sample or None, offset=offset,
                        limit=limit or None, shard=parse_shard(shard), k=k, chains=chains,
                        length=length, searches=searches, seed=seed, max_tokens=max_tokens,
                        temperature=temperature, concurrency=concurrency)
    options = BankBuildOptions(config, out, tuple(llm_url), None, db or None)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with exit_on_failure(BANK_ERRORS, db=db or None), Progress(*columns,
                                                                console=console) as bar:
        task = bar.add_task("bank units", total=None)

        def progress(done: int, total: int, unit: str) -> None:
            bar.update(task, completed=done, total=total, description=unit[:40])

        s = run_bank_build(options, progress)
    console.print(f"bank {out}: {s.problems} problems, {s.units_built} units built, "
                  f"{s.units_kept} kept, {s.replayed_calls} calls answered from the trace, "
                  f"{s.seconds:.0f} s (trace run {s.run_id})")
    for p in s.problems_found:
        console.print(f"[yellow]{out}: {p}")


def bank_embed_command(
    bank: str = typer.Argument(..., help="The bank whose samples are embedded."),
    out: str = typer.Option("", "--out", "-o", help="Embeddings file (continued if it "
                            "exists); default BANK with .embeddings.jsonl."),
    embed_url: list[str] = typer.Option([], help="The pooling server of the bank's model "
                                        "(`worldplan serve --embed`)."),
    concurrency: int = typer.Option(2, help="Problems in flight (all their samples)."),
    db: str = typer.Option("", help="Trace database URL or path (default $WORLDPLAN_DB)."),
) -> None:
    """Embed every sample of a bank (for a learned verifier's embedding features)."""
    if not embed_url:
        raise typer.BadParameter("give --embed-url: a pooling server of the bank's model "
                                 "(`worldplan serve --embed --port 8331`)")
    out = out or str(bank).removesuffix(".jsonl") + ".embeddings.jsonl"
    options = BankEmbedOptions(bank, out, tuple(embed_url), db or None, concurrency)
    with exit_on_failure(BANK_ERRORS, db=db or None), Progress(
            TextColumn("embedded"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=console) as bar:
        task = bar.add_task("problems", total=None)
        s = run_bank_embed(options, lambda done, total: bar.update(task, completed=done,
                                                                    total=total))
    console.print(f"{out}: {s.problems} problems, {s.embedded} embedded now, {s.kept} kept, "
                  f"{s.prompt_tokens} prompt tokens, {s.seconds:.0f} s (trace run {s.run_id})")


def bank_merge_command(
    banks: list[str] = typer.Argument(..., help="Bank files (shards) to join."),
    out: str = typer.Option(..., "--out", "-o", help="The merged bank (a new file)."),
) -> None:
    """Join shards of one bank build; banks of other models or datasets are refused."""
    with exit_on_failure(BANK_ERRORS):
        merged = run_bank_merge(banks, out)
    console.print(f"{out}: {len(merged.uids())} problems, {len(merged.units)} units")
    for p in merged.problems_found:
        console.print(f"[yellow]{p}")


def bank_eval_command(
    bank: str = typer.Argument(..., help="The bank to evaluate."),
    train: str = typer.Option("", help="Fit compute-optimal on this bank instead of "
                              "cross-validating on the evaluated one."),
    budgets: str = typer.Option("1,2,3,4,5,6,7,8", help="Budgets (generation-equivalents)."),
    folds: int = typer.Option(5, help="Cross-validation folds (problems)."),
    probe_n: int = typer.Option(2, help="Probe samples for predicted difficulty."),
    seed: int = typer.Option(0, help="Seed of folds, subsets and bootstrap."),
    confidence: float = typer.Option(0.9, help="Bootstrap interval level."),
    max_subsets: int = typer.Option(2000, help="Subsets per (problem, n) above which they "
                                    "are sampled instead of enumerated."),
    json_out: str = typer.Option("", "--json", help="Write the result as JSON here."),
    plot_out: str = typer.Option("", "--plot", help="Write accuracy-vs-budget plots here."),
    no_batch: bool = typer.Option(False, help="Skip the batch-budget and early-stopping "
                                  "table."),
) -> None:
    """Evaluate every strategy at every budget from a bank alone (no server)."""
    with exit_on_failure(BANK_ERRORS):
        result = run_bank_eval(BankEvalOptions(
            bank, train or None, parse_budget_list(budgets), folds, probe_n, seed, confidence,
            max_subsets, json_out or None, plot_out or None, not no_batch))
    console.print(render(result), highlight=False)
    for p in result["slice"]["problems_found"]:
        console.print(f"[yellow]{bank}: {p}")


def parse_budget_list(spec: str) -> tuple[int, ...]:
    try:
        out = tuple(sorted({int(b) for b in spec.split(",") if b.strip()}))
    except ValueError as e:
        raise typer.BadParameter(f"{spec!r}: use comma-separated integers") from e
    if not out or out[0] < 1:
        raise typer.BadParameter(f"{spec!r}: budgets must be positive")
    return out
