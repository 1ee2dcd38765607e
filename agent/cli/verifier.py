"""`worldplan verifier fit | eval`: a verifier learned from banks (agent.banks.scorer).

`fit BANK...` trains the scorer on the banks' samples (grouped cross-validation in its
metadata) and writes the versioned file; `eval BANK --scorer FILE` compares selection with
it against majority voting and P(yes) weighting at every k (the scorer must be of the
bank's model); `eval BANK --cross` uses held-out scores fitted on the other problems of the
given banks instead of a file. Errors are one red line and exit code 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from worldplan.agent.banks.bank_file import BankError, read_bank
from worldplan.agent.banks.selection_eval import (
    compare_selection,
    cross_fitted,
    render_selection,
    scored,
    training_rows,
)
from worldplan.agent.cli.common import exit_on_failure
from worldplan.agent.control.scorer import FEATURE_SETS, ScorerError, fit_scorer, load_scorer

console = Console()
ERRORS = (BankError, ScorerError, ValueError, OSError)


def verifier_fit_command(
    banks: list[str] = typer.Argument(..., help="Banks to train on (one model)."),
    output: str = typer.Option("verifier.json", "--output", "-o", help="Scorer file."),
    folds: int = typer.Option(5, help="Grouped cross-validation folds (by problem)."),
    c: float = typer.Option(1.0, help="Inverse L2 strength of the logistic regression."),
    features: str = typer.Option("live", help="live (what strategies have when judging a "
                                 "finished sample: usable with --verifier learned:FILE) | all "
                                 "(per-step P(yes) too: offline only)."),
) -> None:
    """Train the learned verifier on banks' graded samples."""
    with exit_on_failure(ERRORS):
        read = [read_bank(b) for b in banks]
        models = {b.model for b in read}
        if len(models) != 1:
            raise BankError(f"banks of several models {sorted(models)}: train one per model")
        rows, labels, groups = training_rows(*read)
        if features not in FEATURE_SETS:
            raise ValueError(f"--features {features!r}: use {' or '.join(FEATURE_SETS)}")
        scorer = fit_scorer(rows, labels, groups, model=models.pop(), folds=folds, c=c,
                            features=FEATURE_SETS[features],
                            metadata={"banks": banks, "feature_set": features})
        scorer.save(output)
    cv = scorer.metadata["cv"]
    console.print(f"{output}: {scorer.metadata['samples']} samples of "
                  f"{scorer.metadata['problems']} problems; grouped CV AUROC {cv['auroc']:.3f}, "
                  f"within problems {cv['auroc_within_problems']}")
    for f, w in sorted(zip(scorer.features, scorer.weights, strict=True),
                       key=lambda fw: -abs(fw[1])):
        console.print(f"  {f:16s} {w:+.3f}")


def verifier_eval_command(
    bank: str = typer.Argument(..., help="The bank to select on."),
    scorer: str = typer.Option("", help="A scorer file (`verifier fit`)."),
    cross: list[str] = typer.Option([], help="Instead: score each problem by a scorer "
                                    "fitted on the other problems of these banks (and BANK)."),
    json_out: str = typer.Option("", "--json", help="Write the table as JSON here."),
    max_subsets: int = typer.Option(2000, help="Subsets per (problem, k) before sampling."),
) -> None:
    """Weighted@k with the learned scores vs majority@k and P(yes) weighting."""
    with exit_on_failure(ERRORS):
        b = read_bank(bank)
        if scorer:
            s = load_scorer(scorer)
            s.check_model(b.model)
            scores = scored(b, s)
            result = compare_selection(b, lambda uid: scores[uid], max_subsets=max_subsets)
            result["scorer"] = scorer
        else:
            held = cross_fitted([b, *[read_bank(x) for x in cross if x != bank]],
                                model=b.model)
            result = compare_selection(b, lambda uid: held[uid], max_subsets=max_subsets)
            result["scorer"] = f"cross-fitted on {[bank, *cross]}"
        if json_out:
            Path(json_out).write_text(json.dumps(result, indent=1) + "\n")
    console.print(render_selection(result), highlight=False)
