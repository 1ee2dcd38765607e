"""`bank eval`'s result: figures with bootstrap intervals, as JSON, text tables and plots.

`evaluate_bank(bank, settings, train=None)` runs agent.banks.evaluate and returns a
JSON-ready dict: the slice (problems, K, model, dataset), per configuration and budget the
mean accuracy with its interval over problems, pass@k and maj@k, compute-optimal (oracle and
predicted difficulty, held out) against best-of-N weighted at the same budget (paired
difference), the efficiency ratio per budget with its interval (resampling problems), and
per oracle bin the accuracy of every configuration family and of compute-optimal.
Budgets are generation-equivalents (one full solution each; the verifier is free, as in
Snell et al.). The intervals resample problems with each problem's held-out choice fixed:
they leave out the variability of refitting the table on a resample, so they are somewhat
narrow. An efficiency ratio is flagged `censored` (best-of-N never reaches compute-optimal
within K samples: a lower bound), `upper_censored` (its interval reaches that bound) or
`floored` (compute-optimal is at or below best-of-1). `render(result)` gives the tables as
text; `plot(result, path)` draws accuracy vs budget per strategy, overall and per bin
(matplotlib, Agg).
Not handled: evaluating (agent.banks.evaluate).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from worldplan.agent.banks.bank_file import Bank, BankError
from worldplan.agent.banks.batch_eval import BatchSettings, batch_table, render_batch
from worldplan.agent.banks.estimators import best_of_n, pass_at_k
from worldplan.agent.banks.evaluate import (
    EvalSettings,
    Tables,
    accuracy_tables,
    cross_validate,
    efficiency,
    nan_mean,
)
from worldplan.agent.banks.problems import problem_data, rescored
from worldplan.agent.control.difficulty import N_BINS
from worldplan.traces.intervals import difference_ci, mean_ci, statistic_ci


def evaluate_bank(bank: Bank, settings: EvalSettings, train: Bank | None = None, *,
                  batch: BatchSettings | None = None,
                  scores_of: Callable[[str], np.ndarray] | None = None) -> dict[str, Any]:
    """`scores_of`: uid -> the K samples' scores of a learned verifier, used instead of
    P(yes) everywhere (selection, the probe's statistic)."""
    if train is not None and train.model != bank.model:
        raise BankError(f"{train.path}: model {train.model!r} differs from {bank.model!r} "
                        f"of {bank.path}; a policy fitted on one model says nothing of another")
    problems = problem_data(bank)
    t = accuracy_tables(rescored(problems, scores_of) if scores_of else problems, settings)
    tt = accuracy_tables(problem_data(train), settings) if train is not None else None
    return evaluate_tables(t, {
        "model": bank.model, "dataset": bank.header.get("dataset"), "bank": str(bank.path),
        "build": bank.config, "train": str(train.path) if train else None,
        "problems_found": bank.problems_found,
        "verifier": "learned" if scores_of else "P(yes)"}, tt, batch=batch)


def evaluate_tables(t: Tables, about: dict[str, Any], train: Tables | None = None, *,
                    batch: BatchSettings | None = None) -> dict[str, Any]:
    """The result for accuracy tables already computed (`about`: what the slice is); with
    `batch`, the batch-budget and early-stopping table too (agent.banks.batch_eval)."""
    settings = t.settings
    if train is not None and train.budgets != t.budgets:
        raise ValueError(f"train bank budgets {train.budgets} differ from {t.budgets}")
    cv = cross_validate(t, train)
    conf, seed = settings.confidence, settings.seed
    k = t.bon.shape[1]
    out: dict[str, Any] = {
        "slice": {"problems": len(t.problems), "k": k, **about,
                  "left_out_incomplete": t.left_out,
                  "fit": "train bank" if train else f"{settings.folds}-fold cross-validation",
                  "unit": "generation-equivalents (verifier free)"},
        "settings": {**settings.__dict__, "budgets": t.budgets},
        "configs": {}, "pass_at_k": {}, "maj_at_k": {}, "compute_optimal": {},
        "per_bin": {}}
    for (key, b), col in t.plain.items():
        ok = col[~np.isnan(col)]
        out["configs"].setdefault(key, {})[str(b)] = {
            **mean_ci(ok, seed=seed, confidence=conf).to_dict(),
            "tokens": nan_mean(t.tokens[(key, b)])}
    for n in range(1, k + 1):
        pk = [pass_at_k(p.k, int(p.correct[:p.k].sum()), n) for p in t.problems]
        mk = [best_of_n(p.classes[:p.k], p.scores[:p.k], p.correct[:p.k], n, "majority",
                        max_subsets=settings.max_subsets) for p in t.problems]
        out["pass_at_k"][str(n)] = mean_ci(pk, seed=seed, confidence=conf).to_dict()
        out["maj_at_k"][str(n)] = mean_ci(mk, seed=seed, confidence=conf).to_dict()
    for j, b in enumerate(t.budgets):
        row: dict[str, Any] = {}
        base = t.bon[:, b - 1]
        for name, acc in (("oracle", cv.oracle), ("predicted", cv.predicted),
                          ("marginal", cv.marginal)):
            col = acc[:, j]
            keep = ~np.isnan(col)
            row[name] = mean_ci(col[keep], seed=seed, confidence=conf).to_dict()
            row[f"{name}_minus_bon"] = difference_ci(col[keep], base[keep], seed=seed,
                                                     confidence=conf).to_dict()
            rows = np.column_stack([col[keep], t.bon[keep]])
            ratio = statistic_ci(rows, partial(efficiency, budget=b), seed=seed,
                                 confidence=conf)
            row[f"{name}_efficiency"] = {
                **ratio.to_dict(), "censored_at": k / b, "floored_at": 1 / b,
                # best-of-N never reaches it within K (a lower bound), or already at n=1
                "censored": bool(ratio.point >= k / b - 1e-9),
                "upper_censored": bool(ratio.high >= k / b - 1e-9),
                "floored": bool(ratio.point <= 1 / b + 1e-9),
                "problems_left_out": int((~keep).sum())}
        keep = ~np.isnan(cv.oracle[:, j])  # the problems compute-optimal was evaluated on
        row["best_of_n_weighted"] = mean_ci(base[keep], seed=seed, confidence=conf).to_dict()
        row["tokens"] = {"oracle": nan_mean(cv.tokens["oracle"][:, j]),
                         "predicted": nan_mean(cv.tokens["predicted"][:, j]),
                         "best_of_n_weighted": nan_mean(
                             t.tokens[("best_of_n:selection=weighted", b)])}
        for name in ("oracle", "predicted"):
            row[f"{name}_choices"] = dict(Counter(cv.choices[name][j].values()).most_common())
        out["compute_optimal"][str(b)] = row
    out["per_bin"] = _per_bin(t, cv.oracle_bins, cv.oracle, cv.predicted)
    if batch is not None and train is None:
        out["batch"] = batch_table(t, batch)
    out["per_bin_problems"] = {str(x): int((cv.oracle_bins == x).sum())
                               for x in range(1, N_BINS + 1)}
    return out


def _per_bin(t: Tables, bins: np.ndarray, oracle: np.ndarray, predicted: np.ndarray
             ) -> dict[str, Any]:
    res: dict[str, Any] = {}
    for x in range(1, N_BINS + 1):
        rows = np.flatnonzero(bins == x)
        per: dict[str, dict[str, float | None]] = {}
        for (key, b), col in t.plain.items():
            per.setdefault(key, {})[str(b)] = nan_mean(col[rows])
        for j, b in enumerate(t.budgets):
            per.setdefault("compute-optimal (oracle)", {})[str(b)] = nan_mean(oracle[rows, j])
            per.setdefault("compute-optimal (predicted)", {})[str(b)] = nan_mean(
                predicted[rows, j])
        res[str(x)] = per
    return res


# ---- rendering ----------------------------------------------------------------------------

def render(r: dict[str, Any]) -> str:
    s, budgets = r["slice"], r["settings"]["budgets"]
    lines = [f"bank {s['bank']}: {s['problems']} complete problems of {s['dataset']} "
             f"({len(s.get('left_out_incomplete', []))} incomplete left out), model "
             f"{s['model']}, K={s['k']}; budgets in {s['unit']}; compute-optimal fitted by "
             f"{s['fit']}; {int(100 * r['settings']['confidence'])}% bootstrap intervals "
             "over problems", ""]
    head = f"{'configuration':34s}" + "".join(f"{'B=' + str(b):>8s}" for b in budgets)
    lines += ["accuracy per configuration (mean over problems)", head]
    for key, per in sorted(r["configs"].items()):
        lines.append(f"{key:34s}" + "".join(
            f"{per[str(b)]['point']:8.3f}" if str(b) in per and per[str(b)]["n"] else
            f"{'':8s}" for b in budgets))
    for name in ("oracle", "predicted", "marginal"):
        lines.append(f"{'compute-optimal (' + name + ')':34s}" + "".join(
            f"{r['compute_optimal'][str(b)][name]['point']:8.3f}" for b in budgets))
    lines += ["", "mean completion tokens per problem (what each budget cost in tokens)",
              head]
    for key, per in sorted(r["configs"].items()):
        lines.append(f"{key:34s}" + "".join(
            f"{per[str(b)]['tokens']:8.0f}" if str(b) in per and per[str(b)].get("tokens")
            is not None else f"{'':8s}" for b in budgets))
    for name in ("oracle", "predicted"):
        lines.append(f"{'compute-optimal (' + name + ')':34s}" + "".join(
            f"{r['compute_optimal'][str(b)]['tokens'][name] or 0:8.0f}" for b in budgets))
    lines += ["", "compute-optimal vs best-of-N weighted at the same budget"]
    for b in budgets:
        row = r["compute_optimal"][str(b)]
        for name in ("oracle", "predicted"):
            e = row[f"{name}_efficiency"]
            more = ">=" if e["censored"] else "<=" if e["floored"] else ""
            lines.append(
                f"B={b} {name:9s} acc {_ci(row[name])} vs BoN {_ci(row['best_of_n_weighted'])}"
                f"  diff {_ci(row[name + '_minus_bon'])}  efficiency {more}{_ci(e)}")
    lines += ["", "pass@k / maj@k: " + ", ".join(
        f"k={k}: {r['pass_at_k'][k]['point']:.3f}/{r['maj_at_k'][k]['point']:.3f}"
        for k in r["pass_at_k"])]
    lines += ["", "per oracle bin (1 easiest): compute-optimal (oracle) / best-of-N weighted",
              f"{'bin':6s}{'n':>4s}" + "".join(f"{'B=' + str(b):>12s}" for b in budgets)]
    for x, per in r["per_bin"].items():
        co, bon = per["compute-optimal (oracle)"], per.get("best_of_n:selection=weighted", {})
        lines.append(f"{x:6s}{r['per_bin_problems'][x]:4d}" + "".join(
            f"{_f(co.get(str(b)))}/{_f(bon.get(str(b)))}".rjust(12) for b in budgets))
    if "batch" in r:
        lines += ["", render_batch(r["batch"])]
    return "\n".join(lines)


def _ci(d: dict[str, float]) -> str:
    if math.isnan(d["point"]):
        return "n/a"
    return f"{d['point']:.3f} [{d['low']:.3f}, {d['high']:.3f}]"


def _f(x: float | None) -> str:
    return "  - " if x is None else f"{x:.2f}"


def _families(curves: dict[str, dict[int, float]]) -> dict[str, dict[int, float]]:
    """One curve per search strategy (each budget's search is its own configuration), one
    per revisions chain count (a fixed width, growing length); others as they are."""
    out: dict[str, dict[int, float]] = {}
    for key, pts in curves.items():
        name = key
        if key.startswith(("beam:", "dvts:")):
            name = key.split(":")[0]
        elif key.startswith("revisions:"):
            name = "revisions:" + key.split(":")[1].split(",")[0]
        out.setdefault(name, {}).update(pts)
    return out


def plot(r: dict[str, Any], path: str | Path) -> Path:
    """Accuracy vs budget (log2) per configuration family and compute-optimal: overall,
    then one panel per oracle bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budgets = r["settings"]["budgets"]
    fig, axes = plt.subplots(1, 1 + N_BINS, figsize=(4 * (1 + N_BINS), 3.6), sharey=True)
    overall = {key: {b: per[str(b)]["point"] for b in budgets if str(b) in per}
               for key, per in r["configs"].items()}
    overall["compute-optimal (oracle)"] = {
        b: r["compute_optimal"][str(b)]["oracle"]["point"] for b in budgets}
    overall["compute-optimal (predicted)"] = {
        b: r["compute_optimal"][str(b)]["predicted"]["point"] for b in budgets}
    panels = [("all problems", overall)] + [
        (f"bin {x} ({r['per_bin_problems'][x]} problems)",
         {key: {b: v[str(b)] for b in budgets if v.get(str(b)) is not None}
          for key, v in per.items()}) for x, per in r["per_bin"].items()]
    for ax, (title, curves) in zip(axes, panels, strict=True):
        for key, pts in sorted(_families(curves).items()):
            xs = sorted(pts)
            style = "-" if key.startswith(("compute", "best_of_n:selection=weighted")) \
                else ":"
            ax.plot(xs, [pts[x] for x in xs], style, marker="o", ms=3, label=key)
        ax.set_xscale("log", base=2)
        ax.set_title(title)
        ax.set_xlabel("generation budget")
    axes[0].set_ylabel("accuracy")
    axes[0].legend(fontsize=6, loc="lower right")
    fig.suptitle(f"{r['slice']['dataset']}: {r['slice']['problems']} problems, "
                 f"{r['slice']['model']}")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
