"""A batch budget and early stopping, evaluated offline from a bank (issue 17's table).

At an average budget B (generation-equivalents per problem over the batch):
- uniform: best-of-B weighted on every problem (the baseline);
- per-problem: compute-optimal with predicted difficulty (agent.banks.evaluate);
- batch: every problem probed (probe_n samples, charged), its bin predicted from the probe's
  mean verifier score, then budgets allocated across problems by marginal gains on the
  training problems' per-bin accuracy-vs-budget curves (agent.banks.allocation), each running
  its bin's best configuration for the budget it got; the average is never exceeded;
- early stopping: best-of-N weighted that stops once the answers agree (tested after each
  wave of 2, as live: agent.banks.allocation.early_stopped), up to a cap of `cap_factor` x B;
  its mean spend can be above or below B: it is compared by its spend, not by B;
- batch + early stopping: the allocation also offered early-stopped best-of-N at every cap,
  at its expected spend on the training problems of the bin (the plan keeps the average;
  the realised spend on held-out problems can differ a little: it is what is reported, and
  what the efficiency ratio divides by; live, unspent budget would return to the pool).
Two ceilings are reported beside them, as what no predictor can beat on this bank:
- batch_oracle_bins: the batch with each problem binned by its own measured pass@1 (the
  samples it is then scored on: a cheat), so the bins order problems perfectly;
- per_problem_oracle: each problem's own expected best-of-N curve known, budgets allocated
  across problems by marginal gains (no probe): the ceiling of any allocation of best-of-N.
`options="best_of_n"` offers the bins only best-of-N weighted (and early stopping): with few
training problems a bin's best beam or revision configuration is picked on one noisy search
outcome per problem, and can be worse held out than plain sampling.
Training folds are the same k-fold split over problems as compute-optimal's, so every
accuracy is held out. Each row: accuracy with a bootstrap interval over problems, the mean
spend, and the efficiency ratio against uniform best-of-N (the n it needs to reach the
accuracy, divided by the mean spend) with its interval.
Not handled: the live batch (the offline spends are expectations over sample orders).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from sklearn.model_selection import KFold

from worldplan.agent.banks.allocation import allocate, early_stopped
from worldplan.agent.banks.evaluate import Tables, best_config, needed_n
from worldplan.agent.control.difficulty import bin_of, quantile_cuts
from worldplan.traces.intervals import mean_ci, statistic_ci

BEST_OF_N = "best_of_n:selection=weighted"  # the key `options="best_of_n"` keeps


@dataclass(frozen=True)
class BatchSettings:
    threshold: float = 0.95  # P(the leader stays ahead) to stop
    min_samples: int = 2
    orders: int = 64  # random orders of a problem's samples
    cap_factor: float = 2.0  # early stopping's cap: cap_factor x the average budget
    wave: int = 2  # samples between agreement tests (live best-of-N's default)
    bins: int = 5  # difficulty bins of the probe statistic (quantiles of the training fold)
    options: str = "all"  # the bins' configurations: all | best_of_n (weighted only)

    def __post_init__(self) -> None:
        if self.options not in ("all", "best_of_n"):
            raise ValueError(f"batch options {self.options!r}: choose all or best_of_n")
        if self.bins < 1:
            raise ValueError(f"batch bins must be at least 1, not {self.bins}")


def early_stopping_curves(t: Tables, s: BatchSettings, caps: list[int], *,
                          probe_first: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(accuracy, spend), each (P, len(caps)): early-stopped best-of-N weighted; with
    `probe_first`, every order starts with the probe's samples (a probed batch reuses
    them), so the spend includes the probe."""
    rng = np.random.default_rng(t.settings.seed)
    first = t.settings.probe_n if probe_first else 0
    acc, spend = np.zeros((len(t.problems), len(caps))), np.zeros((len(t.problems), len(caps)))
    for i, p in enumerate(t.problems):
        weights = np.nan_to_num(p.scores[:p.k], nan=0.0)
        right = {int(c) for c in p.classes[:p.k][p.correct[:p.k]] if c >= 0}
        probe = list(range(p.k - first, p.k))
        orders = [probe + list(rng.permutation(p.k - first)) for _ in range(s.orders)]
        for j, cap in enumerate(caps):
            runs = [early_stopped(o, p.classes, weights, min(max(cap, first), p.k),
                                  s.threshold, s.min_samples, s.wave) for o in orders]
            acc[i, j] = np.mean([c in right for _, c in runs])
            spend[i, j] = np.mean([d for d, _ in runs])
    return acc, spend


def _allocated(t: Tables, s: BatchSettings, statistic: np.ndarray,
               pes: tuple[np.ndarray, np.ndarray], budgets: list[int],
               names: tuple[str, ...] = ("batch", "batch+early_stop")
               ) -> dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Held-out (accuracy, spend) per problem of the batch and/or batch + early stopping
    (`names`) at each budget, the problems binned by `statistic` on each training fold's
    quantile cuts (`s.bins` bins)."""
    n, probe, n_bins = len(t.problems), t.settings.probe_n, s.bins
    pes_acc, pes_spend = pes
    options_b = [b for b in t.budgets if b > probe]
    rows: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {
        name: {b: (np.full(n, np.nan), np.full(n, np.nan)) for b in budgets}
        for name in names}
    folds = KFold(n_splits=max(2, min(t.settings.folds, n)), shuffle=True,
                  random_state=t.settings.seed)
    for tr, te in folds.split(np.arange(n)):
        cuts = quantile_cuts(list(statistic[tr]), n_bins)
        bins = np.array([bin_of(x, cuts) for x in statistic])
        curves: dict[int, list[tuple[float, float, Any]]] = {}
        for x in range(1, n_bins + 1):
            members = tr[bins[tr] == x] if (bins[tr] == x).any() else tr
            opts: list[tuple[float, float, Any]] = []
            for b in options_b:
                configs = [c for c in t.probed_configs[b]
                           if s.options == "all" or c.key == BEST_OF_N]
                cfg = best_config(t.probed, configs, b, members)
                if cfg is not None:
                    opts.append((float(b), float(t.probed[(cfg.key, b)][members].mean()),
                                 ("config", cfg.key, b)))
            es = [(float(pes_spend[members, c].mean()), float(pes_acc[members, c].mean()),
                   ("early_stop", c)) for c in range(probe, pes_acc.shape[1])]
            curves[x] = opts + es
        for name in rows:
            for b in budgets:
                per = [[o for o in curves[int(bins[i])]
                        if name == "batch+early_stop" or o[2][0] == "config"] for i in te]
                chosen = allocate([[(c, a) for c, a, _ in o] for o in per], float(b))
                for i, o, j in zip(te, per, chosen, strict=True):
                    what = o[j][2]
                    if what[0] == "config":
                        rows[name][b][0][i] = t.probed[(what[1], what[2])][i]
                        rows[name][b][1][i] = what[2]
                    else:
                        rows[name][b][0][i] = pes_acc[i, what[1]]
                        rows[name][b][1][i] = pes_spend[i, what[1]]
    return rows


def per_problem_oracle(bon: np.ndarray, budget: float) -> tuple[np.ndarray, np.ndarray]:
    """The ceiling of any allocation of best-of-N: each problem's own expected curve known
    (its graded samples: a cheat no predictor has), budgets allocated by marginal gains."""
    options = [[(float(m + 1), float(a)) for m, a in enumerate(row)] for row in bon]
    chosen = allocate(options, float(budget))
    return (np.array([o[j][1] for o, j in zip(options, chosen, strict=True)]),
            np.array([o[j][0] for o, j in zip(options, chosen, strict=True)]))


def batch_table(t: Tables, s: BatchSettings = BatchSettings()) -> dict[str, Any]:
    k, n, probe = t.bon.shape[1], len(t.problems), t.settings.probe_n
    caps = list(range(1, k + 1))
    es_acc, es_spend = early_stopping_curves(t, s, caps)
    pes = early_stopping_curves(t, s, caps, probe_first=True)
    budgets = [b for b in t.budgets if b >= probe + 1]
    rows = _allocated(t, s, t.statistic, pes, budgets)
    oracle = _allocated(t, s, t.pass_at_1, pes, budgets, names=("batch",))["batch"]
    out: dict[str, Any] = {"settings": s.__dict__, "per_budget": {}}
    conf, seed = t.settings.confidence, t.settings.seed
    for b in budgets:
        cap = min(k, int(round(s.cap_factor * b)))
        entries = {"uniform_best_of_n": (t.bon[:, b - 1], np.full(n, float(b))),
                   "early_stop": (es_acc[:, cap - 1], es_spend[:, cap - 1]),
                   "batch": rows["batch"][b], "batch+early_stop": rows["batch+early_stop"][b],
                   "batch_oracle_bins": oracle[b],
                   "per_problem_oracle": per_problem_oracle(t.bon, b)}
        out["per_budget"][str(b)] = {
            name: _summary(acc, spend, t.bon, conf, seed) for name, (acc, spend)
            in entries.items()}
        out["per_budget"][str(b)]["early_stop"]["cap"] = cap
    return out


def _summary(acc: np.ndarray, spend: np.ndarray, bon: np.ndarray, conf: float, seed: int
             ) -> dict[str, Any]:
    table = np.column_stack([acc, spend, bon])
    ratio = statistic_ci(table, partial(_ratio, k=bon.shape[1]), seed=seed, confidence=conf)
    return {"accuracy": mean_ci(acc, seed=seed, confidence=conf).to_dict(),
            "mean_spend": float(spend.mean()), "efficiency": ratio.to_dict()}


def _ratio(rows: np.ndarray, k: int) -> float:
    """needed best-of-N n for the rows' mean accuracy / their mean spend."""
    means = rows.mean(axis=0)
    return needed_n(means[2:2 + k], float(means[0])) / float(means[1])


def render_batch(r: dict[str, Any]) -> str:
    lines = ["batch budget and early stopping (accuracy [90%], mean spend in "
             "generation-equivalents, efficiency vs uniform best-of-N [90%])"]
    for b, per in r["per_budget"].items():
        for name, row in per.items():
            a, e = row["accuracy"], row["efficiency"]
            lines.append(f"B={b:>2s} {name:18s} acc {a['point']:.3f} [{a['low']:.3f}, "
                         f"{a['high']:.3f}]  spend {row['mean_spend']:5.2f}  efficiency "
                         f"{e['point']:.2f} [{e['low']:.2f}, {e['high']:.2f}]")
    return "\n".join(lines)
