"""`worldplan verifier fit | eval`: a verifier learned from banks (agent.banks.scorer).

`fit BANK...` trains the scorer on the banks' samples (grouped cross-validation in its
metadata) and writes the versioned file; `eval BANK --scorer FILE` compares selection with
it against majority voting and P(yes) weighting at every k (the scorer must be of the
bank's model); `eval BANK --cross` uses held-out scores fitted on the other problems of the
given banks instead of a file. `--embeddings FILE` (`worldplan bank embed`) attaches the
samples' embeddings, which the feature sets "embedding" and "embedding-only" read; `fit
--c-grid` chooses the L2 strength by grouped cross-validation. Errors are one red line and
exit code 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from worldplan.agent.banks.bank_file import BankError, read_bank
from worldplan.agent.banks.embeddings import attach_files, embedding_dim
from worldplan.agent.banks.selection_eval import (
    compare_selection,
    cross_fitted,
    render_selection,
    scored,
    training_rows,
)
from worldplan.agent.cli.common import exit_on_failure
from worldplan.agent.control.scorer import (
    ScorerError,
    feature_names,
    fit_choosing_c,
    load_scorer,
)

console = Console()
ERRORS = (BankError, ScorerError, ValueError, OSError)


def verifier_fit_command(
    banks: list[str] = typer.Argument(..., help="Banks to train on (one model)."),
    output: str = typer.Option("verifier.json", "--output", "-o", help="Scorer file."),
    folds: int = typer.Option(5, help="Grouped cross-validation folds (by problem)."),
    c: float = typer.Option(1.0, help="Inverse L2 strength of the logistic regression."),
    features: str = typer.Option("live", help="live (what strategies have when judging a "
                                 "finished sample: usable with --verifier learned:FILE) | all "
                                 "(per-step P(yes) too: offline only) | embedding (live and "
                                 "the samples' embeddings: needs --embeddings, and live use "
                                 "--embed-url) | embedding-only."),
    embeddings: list[str] = typer.Option([], help="Embeddings files of the banks (`worldplan "
                                         "bank embed`)."),
    c_grid: str = typer.Option("", help="Choose C from these values (comma-separated) by "
                               "grouped cross-validation instead of --c."),
) -> None:
    """Train the learned verifier on banks' graded samples."""
    with exit_on_failure(ERRORS):
        read = [read_bank(b) for b in banks]
        models = {b.model for b in read}
        if len(models) != 1:
            raise BankError(f"banks of several models {sorted(models)}: train one per model")
        notes = attach_files(read, [read_bank(e) for e in embeddings])
        names = feature_names(features, embedding_dim(read))
        rows, labels, groups = training_rows(*read)
        scorer = fit_choosing_c(rows, labels, groups, model=models.pop(), features=names,
                                c=c, c_grid=parse_grid(c_grid), folds=folds,
                                metadata={"banks": banks, "feature_set": features,
                                          "embeddings": embeddings})
        scorer.save(output)
    for note in notes:
        console.print(f"[yellow]{note}")
    if chosen := scorer.metadata["c_grid"]:
        console.print("C by grouped CV (within-problem AUROC): " + ", ".join(
            f"{float(k):g}: {v:.3f}" if v is not None else f"{float(k):g}: -"
            for k, v in chosen.items()) + f"; chosen {scorer.metadata['C']:g}")
    cv = scorer.metadata["cv"]
    console.print(f"{output}: {scorer.metadata['samples']} samples of "
                  f"{scorer.metadata['problems']} problems; grouped CV AUROC {cv['auroc']:.3f}, "
                  f"within problems {cv['auroc_within_problems']}")
    for f, w in sorted(zip(scorer.features, scorer.weights, strict=True),
                       key=lambda fw: -abs(fw[1]))[:20]:
        console.print(f"  {f:16s} {w:+.3f}")


def parse_grid(spec: str) -> list[float]:
    try:
        grid = [float(x) for x in spec.split(",") if x.strip()]
    except ValueError as e:
        raise typer.BadParameter(f"{spec!r}: use comma-separated numbers") from e
    if any(not c > 0 for c in grid):
        raise typer.BadParameter(f"{spec!r}: every C must be positive")
    return grid


def verifier_eval_command(
    bank: str = typer.Argument(..., help="The bank to select on."),
    scorer: str = typer.Option("", help="A scorer file (`verifier fit`)."),
    cross: list[str] = typer.Option([], help="Instead: score each problem by a scorer "
                                    "fitted on the other problems of these banks (and BANK)."),
    features: str = typer.Option("live", help="With --cross: the feature set (see fit)."),
    c: float = typer.Option(1.0, help="With --cross: inverse L2 strength."),
    embeddings: list[str] = typer.Option([], help="Embeddings files of the banks."),
    json_out: str = typer.Option("", "--json", help="Write the table as JSON here."),
    max_subsets: int = typer.Option(2000, help="Subsets per (problem, k) before sampling."),
) -> None:
    """Weighted@k with the learned scores vs majority@k and P(yes) weighting."""
    with exit_on_failure(ERRORS):
        b = read_bank(bank)
        others = [read_bank(x) for x in cross if x != bank]
        notes = attach_files([b, *others], [read_bank(e) for e in embeddings])
        if scorer:
            s = load_scorer(scorer)
            s.check_model(b.model)
            if s.needs_embedding and not embedding_dim([b]):
                raise ScorerError(f"{scorer} reads embeddings: pass --embeddings for {bank}")
            scores = scored(b, s)
            result = compare_selection(b, lambda uid: scores[uid], max_subsets=max_subsets)
            result["scorer"] = scorer
        else:
            names = feature_names(features, embedding_dim([b, *others]))
            held = cross_fitted([b, *others], model=b.model, features=names, c=c)
            result = compare_selection(b, lambda uid: held[uid], max_subsets=max_subsets)
            result["scorer"] = f"cross-fitted on {[bank, *cross]} ({features}, C={c:g})"
        if json_out:
            Path(json_out).write_text(json.dumps(result, indent=1) + "\n")
    for note in notes:
        console.print(f"[yellow]{note}")
    console.print(render_selection(result), highlight=False)
    console.print(f"learned scores: {result['scorer']}", highlight=False)
