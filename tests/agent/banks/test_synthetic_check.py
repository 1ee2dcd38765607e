"""The known-truth check of `bank eval` at the paper's scale: a synthetic bank of 500
problems whose accuracies are known in closed form (agent.banks.synthetic). The evaluation,
reading the bank like any other, recovers the best strategy of every difficulty bin and the
efficiency ratio of compute-optimal (oracle difficulty, 5-fold cross-validation) within its
bootstrap interval, in under a minute. It checks the statistics, never a model."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest

from worldplan.agent.banks.bank_file import read_bank
from worldplan.agent.banks.evaluate import EvalSettings, Tables, accuracy_tables, fit_bins
from worldplan.agent.banks.problems import problem_data
from worldplan.agent.banks.report import evaluate_tables
from worldplan.agent.banks.synthetic import SyntheticSpec, truth, write_synthetic
from worldplan.agent.control.difficulty import bin_of, quantile_cuts

BUDGETS = (1, 2, 4, 8, 16)
MARGIN = 0.03  # closer families are a tie: either may be recovered


@dataclass
class Evaluated:
    spec: SyntheticSpec
    tables: Tables
    seconds: float  # reading the bank and computing its tables


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Evaluated:
    spec = SyntheticSpec()
    path = write_synthetic(spec, tmp_path_factory.mktemp("bank") / "synthetic.jsonl")
    t0 = time.monotonic()
    tables = accuracy_tables(problem_data(read_bank(path)),
                             EvalSettings(budgets=BUDGETS, max_subsets=200))
    return Evaluated(spec, tables, time.monotonic() - t0)


def family(key: str) -> str:
    return "best_of_n" if key.startswith("best_of_n") else key.split(":")[0]


def test_the_best_strategy_of_every_bin_is_recovered(synthetic: Evaluated) -> None:
    spec, t = synthetic.spec, synthetic.tables
    cuts = quantile_cuts(list(t.pass_at_1))
    bins = np.array([bin_of(x, cuts) for x in t.pass_at_1])
    levels = np.array([p.level for p in t.problems])
    assert (bins == levels).mean() > 0.8  # quantile bins of pass@1 mostly find the levels
    true = truth(spec, list(BUDGETS))
    checked = 0
    for b in BUDGETS:
        fitted = fit_bins(t.plain, t.configs[b], b, bins, np.arange(len(t.problems)))
        for level, rows in enumerate(true["per_level"], start=1):
            bon = max(v for k, v in rows[b].items() if k.startswith("best_of_n"))
            beam = rows[b].get("beam:width=4")
            if beam is None or abs(bon - beam) <= MARGIN:
                continue
            want = "beam" if beam > bon else "best_of_n"
            assert family(fitted[level].key) == want, (b, level, fitted[level].key, rows[b])
            checked += 1
    assert checked >= 15


def test_the_efficiency_ratio_is_recovered_within_its_interval(synthetic: Evaluated) -> None:
    spec = synthetic.spec
    t0 = time.monotonic()
    result = evaluate_tables(synthetic.tables, {"bank": "synthetic"})
    seconds = synthetic.seconds + time.monotonic() - t0
    true = truth(spec, list(BUDGETS))
    for b in BUDGETS:
        got = result["compute_optimal"][str(b)]["oracle_efficiency"]
        want = float(true["efficiency"][b])
        if want >= spec.k / b - 1e-9:  # best-of-N never catches up within K: censored
            assert got["censored"], (b, got)
        else:
            assert got["low"] <= want <= got["high"], (b, want, got)
            assert got["high"] - got["low"] < want  # an interval that says something
    assert seconds < 60, f"bank eval of 500 problems took {seconds:.0f} s"
