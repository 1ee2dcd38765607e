"""Compute-optimal vs best-of-N from the committed banks (issue 13): no server, no sampling.

    .venv/bin/python benchmarks/bank_eval.py
    .venv/bin/python benchmarks/bank_eval.py --budgets 1,2,4,8 --folds 5

Three evaluations of the banks in benchmarks/banks/ (built by benchmarks/banks/build.sh):
1. held-out: compute-optimal fitted on the calibration bank (MATH train slice) and
   evaluated on the MATH-500 bank;
2. cross-validated on the MATH-500 bank alone (k folds over problems);
3. cross-validated on both banks pooled (the largest slice; problems never share a fold).
Each prints the `bank eval` tables (accuracy per configuration and budget, compute-optimal
with oracle and predicted difficulty against best-of-N weighted, efficiency ratio with its
bootstrap interval, per-bin accuracy; for the cross-validated ones the batch budget and
early stopping table of agent.banks.batch_eval) and writes benchmarks/results/bank_eval-NAME.json
and .png. Then the learned verifier (issue 18): trained on the calibration bank and
selecting on the held-out one, and cross-fitted over both, against majority voting and
P(yes) weighting at every k. Budgets are generation-equivalents with a free verifier
(Snell et al.'s unit).
The batch table carries two ceilings (agent.banks.batch_eval: bins from each problem's own
pass@1, and each problem's own best-of-N curve) and the selection table the headroom of any
selection at k = K (agent.banks.selection_eval.headroom). `--batch-options best_of_n` and
`--batch-bins` vary the batch's per-bin configurations and bins (files get a suffix);
`--learned-features embedding` (or embedding-only) reruns only the learned verifier's
tables with the banks' embeddings (`worldplan bank embed`; C chosen by nested grouped
cross-validation), into files with that suffix.
Prints the host and the load average; the banks' headers name the model and seeds.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import typer

from worldplan.agent.banks.bank_file import Bank, pool_banks, read_bank
from worldplan.agent.banks.batch_eval import BatchSettings
from worldplan.agent.banks.embeddings import attach_files, embedding_dim
from worldplan.agent.banks.evaluate import EvalSettings
from worldplan.agent.banks.report import evaluate_bank, plot, render
from worldplan.agent.banks.selection_eval import (
    compare_selection,
    cross_fitted,
    render_selection,
    scored,
    training_rows,
)
from worldplan.agent.control.scorer import feature_names, fit_choosing_c

HERE = Path(__file__).resolve().parent
BANKS, RESULTS = HERE / "banks", HERE / "results"


def main(budgets: str = typer.Option("1,2,3,4,5,6,7,8", help="Generation budgets."),
         folds: int = typer.Option(5, help="Cross-validation folds."),
         seed: int = typer.Option(0, help="Seed of folds, subsets, bootstrap."),
         train: Path = typer.Option(BANKS / "math-train.jsonl", help="Calibration bank."),
         heldout: Path = typer.Option(BANKS / "math500.jsonl", help="Held-out bank."),
         batch_options: str = typer.Option("all", help="The batch's per-bin configurations: "
                                           "all | best_of_n (weighted only)."),
         batch_bins: int = typer.Option(5, help="The batch's difficulty bins."),
         learned_features: str = typer.Option("live", help="The learned verifier's features: "
                                              "live | embedding-only | embedding (the banks' "
                                              "embeddings files, C chosen by nested grouped "
                                              "CV from --c-grid)."),
         c_grid: str = typer.Option("0.0001,0.001,0.01,0.1,1,10", help="C values (embedding "
                                    "features).")) -> None:
    settings = EvalSettings(budgets=tuple(int(b) for b in budgets.split(",")), folds=folds,
                            seed=seed)
    host = {"machine": platform.machine(), "cpus": os.cpu_count(),
            "load_average": os.getloadavg()}
    print(f"host {host}")
    tb, hb = read_bank(train), read_bank(heldout)
    batch = BatchSettings(options=batch_options, bins=batch_bins)
    tag = "" if (batch_options, batch_bins) == ("all", 5) else f"-{batch_options}-{batch_bins}"
    if learned_features != "live":  # only the learned verifier's tables change
        attach_files([tb, hb], [read_bank(p.with_name(p.stem + ".embeddings.jsonl"))
                                for p in (train, heldout)])
        tag += f"-{learned_features}"
    learned = Learned(learned_features, tuple(float(c) for c in c_grid.split(",") if c.strip()),
                      embedding_dim([tb, hb]), folds)
    evaluations = () if learned_features != "live" else (
        ("heldout", lambda: evaluate_bank(hb, settings, tb)),
        ("cv-math500", lambda: evaluate_bank(hb, settings, batch=batch)),
        ("cv-pooled", lambda: evaluate_bank(pool_banks(tb, hb), settings, batch=batch)))
    for name, run in evaluations:
        result = run()
        result["host"] = host
        print(f"\n=== {name} ===")
        print(render(result))
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"bank_eval-{name}{tag}.json").write_text(
            json.dumps(result, indent=1, default=float) + "\n")
        plot(result, RESULTS / f"bank_eval-{name}{tag}.png")
    # issue 18: selection with a verifier learned from the banks, and compute-optimal and
    # the batch recomputed with its (cross-fitted, held-out) scores
    both = pool_banks(tb, hb)
    cross = learned.cross_fitted(both, tb.model)
    result = evaluate_bank(both, settings, batch=batch, scores_of=lambda u: cross[u])
    result["host"] = host
    print("\n=== cv-pooled, learned verifier scores ===")
    print(render(result))
    (RESULTS / f"bank_eval-cv-pooled-learned{tag}.json").write_text(
        json.dumps(result, indent=1, default=float) + "\n")
    for name, sel in learned_selection(tb, hb, learned).items():
        sel["host"] = host
        print(f"\n=== learned verifier: {name} ===")
        print(render_selection(sel))
        (RESULTS / f"bank_eval-learned-{name}{tag}.json").write_text(
            json.dumps(sel, indent=1, default=float) + "\n")


@dataclass(frozen=True)
class Learned:
    """The learned verifier's features: the live set (C = 1, as shipped), or a set that
    reads the samples' embeddings (of `dim` components), with C chosen from `grid` on
    training problems only (grouped cross-validation, `folds`)."""

    features: str
    grid: tuple[float, ...]
    dim: int
    folds: int

    @property
    def names(self) -> tuple[str, ...]:
        return feature_names(self.features, self.dim)

    @property
    def c_grid(self) -> tuple[float, ...]:
        return () if self.features == "live" else self.grid

    def cross_fitted(self, bank: Bank, model: str) -> dict[str, np.ndarray]:
        return cross_fitted([bank], model=model, features=self.names, c_grid=self.c_grid,
                            folds=self.folds)


def learned_selection(tb: Bank, hb: Bank, learned: Learned) -> dict[str, dict[str, object]]:
    """Trained on the calibration bank, selecting on the held-out one; and cross-fitted
    over both (each problem scored by a scorer that never saw it)."""
    rows, labels, groups = training_rows(tb)
    scorer = fit_choosing_c(rows, labels, groups, model=tb.model, features=learned.names,
                            c_grid=learned.c_grid, folds=learned.folds)
    held = scored(hb, scorer)
    out = {"heldout": compare_selection(hb, lambda u: held[u])}
    both = pool_banks(tb, hb)
    cross = learned.cross_fitted(both, tb.model)
    out["cv-pooled"] = compare_selection(both, lambda u: cross[u])
    out["heldout"]["scorer_cv"] = scorer.metadata["cv"]
    out["heldout"]["C"] = scorer.metadata["C"]
    for sel in out.values():
        sel["features"] = learned.features
    return out


if __name__ == "__main__":
    typer.run(main)
