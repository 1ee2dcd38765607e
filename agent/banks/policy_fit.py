"""`worldplan fit-policy --bank`: the policy file `worldplan math --strategy compute-optimal`
runs, fitted from a bank on the difficulty it will see at run time.

At a budget B where the probe fits (probe_n <= max_fraction x B), the live controller probes,
bins the probe's mean verifier score, and runs the chosen configuration on B - probe_n with
the probe's samples joining its selection (agent.strategies.compute_optimal). So those rows
are fitted on exactly that: the bank's "probed" accuracies (agent.banks.evaluate), on bins
of the probe statistic cut at its own quantiles over the bank's problems; the cuts and the
statistic go into the policy's `probe` settings, which agent.control.decide reads. At the
other budgets there is no probe: one bin-free row, the best single configuration. Every row
states its accuracy on the bank and how many problems it rests on; the metadata says what it
was fitted on, and the held-out (cross-validated) accuracy of the same procedure.
Not handled: a learned difficulty predictor (the policy has none; "auto" uses this).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from worldplan.agent.banks.bank_file import Bank
from worldplan.agent.banks.evaluate import (
    EvalSettings,
    accuracy_tables,
    best_config,
    cross_validate,
    fit_bins,
    nan_mean,
)
from worldplan.agent.banks.problems import problem_data
from worldplan.agent.control.difficulty import bin_of, quantile_cuts
from worldplan.agent.control.policy import Policy, PolicyEntry

STATISTIC = "verifier_mean"


def fit_policy_from_bank(bank: Bank, settings: EvalSettings, *, note: str = "") -> Policy:
    t = accuracy_tables(problem_data(bank), settings)
    rows = np.arange(len(t.problems))
    o_cuts, s_cuts = quantile_cuts(list(t.pass_at_1)), quantile_cuts(list(t.statistic))
    bins = np.array([bin_of(x, s_cuts) for x in t.statistic])
    entries: list[PolicyEntry] = []
    for b in t.budgets:
        probed = settings.probe_fits(b)
        table = t.probed if probed else t.plain
        if probed:
            fit = fit_bins(table, t.probed_configs[b], b, bins, rows)
        else:
            best = best_config(table, t.configs[b], b, rows)
            fit = {} if best is None else {None: best}
        for k, cfg in sorted(fit.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
            members = rows if k is None else rows[bins == k]
            col = table[(cfg.key, b)][members]
            entries.append(PolicyEntry(
                k, b, cfg.strategy, cfg.param_dict, round(float(col.mean()), 4),
                int(members.size), None,
                f"probe of {settings.probe_n} first, then B-{settings.probe_n}" if probed
                else "no probe at this budget"))
    cv = cross_validate(t)
    meta: dict[str, Any] = {
        "fitted_on": f"bank {bank.path}: {len(t.problems)} problems of "
                     f"{bank.header.get('dataset')} with model {bank.model}, K={t.bon.shape[1]}",
        "bank": {"path": str(bank.path), "model": bank.model,
                 "dataset": bank.header.get("dataset"), "build": bank.config},
        "problems": len(t.problems), "models": [bank.model],
        "budget_unit": "generation-equivalents (verifier free)",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "note": note,
        "cv": {"folds": settings.folds, "seed": settings.seed, "per_budget": {
            str(b): {"predicted": nan_mean(cv.predicted[:, j]), "oracle": nan_mean(cv.oracle[:, j]),
                     "marginal": nan_mean(cv.marginal[:, j]),
                     "best_of_n_weighted": nan_mean(t.bon[:, b - 1])}
            for j, b in enumerate(t.budgets)}},
        "problems_per_bin": {str(k): int((bins == k).sum()) for k in range(1, 6)}}
    probe = {"n": settings.probe_n, "max_fraction": settings.probe_max_fraction,
             "statistic": STATISTIC, "cuts": s_cuts,
             "verifier": bank.config.get("verifier") or "generative"}
    return Policy(entries, o_cuts, probe, None, "math", meta)
