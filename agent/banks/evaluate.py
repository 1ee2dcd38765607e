"""Evaluating a bank: every configuration at every budget, and compute-optimal fitted across
problems, with the efficiency ratio against best-of-N (Snell et al. 2024, from one bank).

`accuracy_tables(problems, settings)` gives, per (configuration, budget), each problem's
expected accuracy (agent.banks.configs), without and with the difficulty probe (the probe is
the last `probe_n` samples; its cost is charged, so the configuration gets B - probe_n).
`cross_validate(tables, settings)` fits the (bin, budget) -> configuration table on the
training problems of each of k folds and applies it to the held-out ones, so every
compute-optimal accuracy comes from problems the table was not fitted on:
- oracle difficulty: 5 quantile bins of pass@1 over the K samples (cuts from the training
  problems; the problem's own samples give its pass@1, as in the paper's oracle);
- predicted difficulty: the mean verifier score of the probe's samples, binned by its own
  training quantiles, the probe charged and its samples joining the final selection; at a
  budget the probe does not fit (probe_n > max_fraction x B) the best single configuration;
- with `train` tables (another bank), one fit on all of them instead of folds.
A bin with no training problem takes the best single configuration. Ties between
configurations go to the first in agent.banks.configs order (best-of-N weighted first).
`efficiency(co, bon, budget)`: the budget best-of-N (weighted) needs to reach
compute-optimal's mean accuracy at `budget` (linear between integer n), divided by
`budget`; censored at K / budget when best-of-N never reaches it.
Not handled: printing and plots (agent.banks.report), fitting a policy file
(agent.banks.policy_fit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import KFold

from worldplan.agent.banks.configs import Config, accuracy, bon, completion_tokens, configs_at
from worldplan.agent.banks.estimators import MAX_SUBSETS
from worldplan.agent.banks.problems import ProblemData
from worldplan.agent.control.difficulty import N_BINS, Signals, bin_of, quantile_cuts

BASELINE = bon("weighted")


@dataclass(frozen=True)
class EvalSettings:
    budgets: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)  # generation-equivalents
    folds: int = 5
    seed: int = 0
    probe_n: int = 2
    probe_max_fraction: float = 0.5
    confidence: float = 0.9
    max_subsets: int = MAX_SUBSETS  # per (problem, n): enumerated below, sampled above

    def probe_fits(self, budget: int) -> bool:
        """As agent.strategies.compute_optimal.probe_size with a free verifier (and room
        left for the strategy after the probe)."""
        return 0 < self.probe_n <= self.probe_max_fraction * budget and budget > self.probe_n


@dataclass
class Tables:
    problems: list[ProblemData]
    budgets: list[int]
    configs: dict[int, list[Config]]
    plain: dict[tuple[str, int], np.ndarray]  # (config key, B) -> (P,) accuracy, NaN: n/a
    probed: dict[tuple[str, int], np.ndarray]  # the same with the probe (B - probe_n > 0)
    tokens: dict[tuple[str, int], np.ndarray]  # (P,) expected completion tokens (plain)
    probed_tokens: dict[tuple[str, int], np.ndarray]  # with the probe's
    bon: np.ndarray  # (P, K) best-of-n weighted at n = 1..K
    statistic: np.ndarray  # (P,) the probe's mean verifier score
    settings: EvalSettings = field(default_factory=EvalSettings)
    left_out: list[str] = field(default_factory=list)  # incomplete problems (uids)
    probed_configs: dict[int, list[Config]] = field(default_factory=dict)  # at B - probe_n

    @property
    def pass_at_1(self) -> np.ndarray:
        return np.array([p.pass_at_1 for p in self.problems])


def accuracy_tables(problems: list[ProblemData], settings: EvalSettings) -> Tables:
    """The tables over the bank's complete problems (every unit built; a build still
    running leaves some incomplete: they are left out and counted)."""
    if not problems:
        raise ValueError("the bank has no problem with samples")
    chains = max(len(p.chains) for p in problems)
    length = max((len(c) for p in problems for c in p.chains), default=1)
    searches = sorted({s for p in problems for s in p.searches})
    k = max(p.k for p in problems)
    complete = [p for p in problems if p.k == k and len(p.chains) == chains
                and all(len(c) == length for c in p.chains) and sorted(p.searches) == searches]
    left_out = [p.uid for p in problems if p not in complete]
    problems = complete
    if not problems:
        raise ValueError("the bank has no complete problem (every unit built)")
    budgets = [b for b in settings.budgets if b <= k]
    configs = {b: configs_at(b, chains=chains, length=length, searches=searches)
               for b in budgets}
    n_probe = settings.probe_n
    probed_configs = {b: configs_at(b - n_probe, chains=chains, length=length,
                                    searches=searches, exact=False)
                      for b in budgets if b > n_probe > 0}
    m = settings.max_subsets
    plain: dict[tuple[str, int], np.ndarray] = {}
    probed: dict[tuple[str, int], np.ndarray] = {}
    tokens: dict[tuple[str, int], np.ndarray] = {}
    probed_tokens: dict[tuple[str, int], np.ndarray] = {}
    for b in budgets:
        for cfg in configs[b]:
            tokens[(cfg.key, b)] = np.array([_nan(completion_tokens(p, cfg, b))
                                             for p in problems])
            plain[(cfg.key, b)] = np.array([_nan(accuracy(p, cfg, b, (), max_subsets=m))
                                            for p in problems])
        for cfg in probed_configs.get(b, []):  # probed where it fits (a batch: always)
            probe = list(range(k - n_probe, k))
            probed_tokens[(cfg.key, b)] = np.array([_nan(completion_tokens(
                p, cfg, b - n_probe, probe)) for p in problems])
            probed[(cfg.key, b)] = np.array([
                _nan(accuracy(p, cfg, b - n_probe, probe, max_subsets=m)) for p in problems])
    bon_curve = np.array([[_nan(accuracy(p, BASELINE, n, max_subsets=m))
                           for n in range(1, k + 1)]
                          for p in problems])
    stat = np.array([_probe_statistic(p, n_probe) for p in problems])
    return Tables(problems, budgets, configs, plain, probed, tokens, probed_tokens, bon_curve,
                  stat, settings, left_out, probed_configs)


def _nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _probe_statistic(p: ProblemData, n: int) -> float:
    """The live probe's `verifier_mean` feature of the probe's samples (the last n)."""
    scores = [None if np.isnan(x) else float(x) for x in p.scores[p.k - n:p.k]]
    return Signals(scores=scores).features()["verifier_mean"]


def nan_mean(x: np.ndarray) -> float | None:
    """The mean of the values that are not NaN (4 decimals); None if there is none."""
    x = x[~np.isnan(x)]
    return round(float(x.mean()), 4) if x.size else None


# ---- fitting the (bin, budget) table ------------------------------------------------------

def best_config(table: dict[tuple[str, int], np.ndarray], configs: list[Config], b: int,
                rows: np.ndarray) -> Config | None:
    """The configuration with the highest mean accuracy over `rows` at budget b (only
    configurations the bank evaluates on every one of those problems)."""
    best, best_acc = None, -1.0
    for cfg in configs:
        col = table.get((cfg.key, b))
        if col is None or rows.size == 0 or np.isnan(col[rows]).any():
            continue
        m = float(col[rows].mean())
        if m > best_acc + 1e-12:
            best, best_acc = cfg, m
    return best


def fit_bins(table: dict[tuple[str, int], np.ndarray], configs: list[Config], b: int,
             bins: np.ndarray, rows: np.ndarray) -> dict[int | None, Config]:
    """Bin -> best configuration over the training `rows` in it; None -> over all of them."""
    out: dict[int | None, Config] = {}
    marginal = best_config(table, configs, b, rows)
    if marginal is not None:
        out[None] = marginal
    for k in range(1, N_BINS + 1):
        in_bin = rows[bins[rows] == k]
        chosen = best_config(table, configs, b, in_bin) if in_bin.size else None
        if chosen is not None:
            out[k] = chosen
    return out


@dataclass
class CrossValidated:
    """Held-out accuracy of compute-optimal per problem and budget (P, len(budgets)), and
    what it chose."""

    oracle: np.ndarray
    predicted: np.ndarray
    marginal: np.ndarray  # the best single configuration, fitted on the training folds
    tokens: dict[str, np.ndarray]  # "oracle" | "predicted" -> (P, budgets) completion tokens
    choices: dict[str, list[dict[str, str]]]  # "oracle" | "predicted" -> per budget uid->key
    oracle_bins: np.ndarray  # (P,) bins from all problems' pass@1 (for per-bin reports)


def cross_validate(t: Tables, train: Tables | None = None) -> CrossValidated:
    s = t.settings
    n = len(t.problems)
    shape = (n, len(t.budgets))
    oracle, predicted, marginal = np.full(shape, np.nan), np.full(shape, np.nan), \
        np.full(shape, np.nan)
    choices: dict[str, list[dict[str, str]]] = {
        "oracle": [{} for _ in t.budgets], "predicted": [{} for _ in t.budgets]}
    spent = {"oracle": np.full(shape, np.nan), "predicted": np.full(shape, np.nan)}
    if train is None:
        if n < 2:
            raise ValueError(f"cross-validation needs at least 2 complete problems; the "
                             f"bank has {n} ({len(t.left_out)} incomplete)")
        folds = KFold(n_splits=max(2, min(s.folds, n)), shuffle=True, random_state=s.seed)
        splits = [(t, tr, te) for tr, te in folds.split(np.arange(n))]
    else:
        splits = [(train, np.arange(len(train.problems)), np.arange(n))]
    for fit_on, tr, te in splits:
        p1, stat = fit_on.pass_at_1, fit_on.statistic
        o_cuts, s_cuts = quantile_cuts(list(p1[tr])), quantile_cuts(list(stat[tr]))
        o_train = np.array([bin_of(x, o_cuts) for x in p1])
        s_train = np.array([bin_of(x, s_cuts) for x in stat])
        o_test = np.array([bin_of(x, o_cuts) for x in t.pass_at_1])
        s_test = np.array([bin_of(x, s_cuts) for x in t.statistic])
        for j, b in enumerate(t.budgets):
            configs = t.configs[b]
            o_fit = fit_bins(fit_on.plain, configs, b, o_train, tr)
            if None in o_fit:
                marginal[te, j] = t.plain[(o_fit[None].key, b)][te]
            _apply((oracle, spent["oracle"]), choices["oracle"][j], t, (t.plain, t.tokens),
                   o_fit, o_test, te, j, b)
            if s.probe_fits(b):
                p_fit = fit_bins(fit_on.probed, t.probed_configs[b], b, s_train, tr)
                _apply((predicted, spent["predicted"]), choices["predicted"][j], t,
                       (t.probed, t.probed_tokens), p_fit, s_test, te, j, b)
            else:
                _apply((predicted, spent["predicted"]), choices["predicted"][j], t,
                       (t.plain, t.tokens), {None: o_fit[None]} if None in o_fit else {},
                       s_test, te, j, b)
    all_cuts = quantile_cuts(list(t.pass_at_1))
    bins = np.array([bin_of(x, all_cuts) for x in t.pass_at_1])
    return CrossValidated(oracle, predicted, marginal, spent, choices, bins)


Table = dict[tuple[str, int], np.ndarray]


def _apply(out: tuple[np.ndarray, np.ndarray], chosen: dict[str, str], t: Tables,
           tables: tuple[Table, Table], fit: dict[int | None, Config], bins: np.ndarray,
           rows: np.ndarray, j: int, b: int) -> None:
    """Each held-out problem gets its bin's configuration: accuracy and tokens."""
    for i in rows:
        cfg = fit.get(int(bins[i]), fit.get(None))
        if cfg is None:
            continue
        out[0][i, j] = tables[0][(cfg.key, b)][i]
        out[1][i, j] = tables[1][(cfg.key, b)][i]
        chosen[t.problems[i].uid] = cfg.key


# ---- efficiency ---------------------------------------------------------------------------

def needed_n(curve: np.ndarray, target: float) -> float:
    """The smallest n (linear between integers; curve[i] is at n = i + 1) whose accuracy
    reaches `target`; len(curve) if none does (censored)."""
    if curve.size == 0:
        return math.nan
    if curve[0] >= target - 1e-12:
        return 1.0
    for i in range(1, len(curve)):
        if curve[i] >= target - 1e-12:
            lo, hi = curve[i - 1], curve[i]
            return i + (target - lo) / (hi - lo) if hi > lo else float(i + 1)
    return float(len(curve))


def efficiency(rows: np.ndarray, budget: int) -> float:
    """rows (P, 1 + K): column 0 compute-optimal's accuracy at `budget`, then best-of-N
    weighted at n = 1..K; the ratio needed_n / budget of the column means."""
    means = rows.mean(axis=0)
    return needed_n(means[1:], float(means[0])) / budget
