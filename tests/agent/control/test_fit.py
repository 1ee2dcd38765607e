"""Fitting from hand-built outcomes: oracle bins, per-bin argmax, cross-validation, predictor."""

from __future__ import annotations

import pytest

from tests.agent.control.policies import outcomes_with_known_best
from worldplan.agent.control.difficulty import (
    OracleDifficulty,
    PredictedDifficulty,
    Signals,
    agreement,
    bin_of,
    oracle_bins,
    text_key,
    token_entropy,
)
from worldplan.agent.control.grid_fit import fit_policy
from worldplan.agent.control.predictor import fit_predictor


def test_oracle_bins_are_quantiles_bin1_easiest() -> None:
    rates = {f"u{i}": r for i, r in enumerate([1.0, 1.0, 0.9, 0.9, 0.5, 0.5, 0.3, 0.3, 0.1,
                                                0.1])}
    bins, cuts = oracle_bins(rates)
    assert [bins[f"u{i}"] for i in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert cuts == sorted(cuts)
    assert bin_of(0.0, cuts) == 5 and bin_of(1.0, [0.2, 0.4, 0.6, 0.8]) == 1
    assert bin_of(0.4, [0.2, 0.4, 0.6, 0.8]) == 4  # a tie goes to the harder bin


def test_argmax_per_bin_and_cross_validation() -> None:
    outcomes, rates = outcomes_with_known_best()
    p = fit_policy(outcomes, rates, folds=2)
    for budget in (4, 8):
        assert [p.lookup(b, budget).strategy for b in range(1, 6)] == (  # type: ignore[union-attr]
            ["best_of_n"] * 2 + ["beam"] * 3)
        assert p.lookup(3, budget).params == {"width": 2}  # type: ignore[union-attr]
        # overall, "b" wins 6 of 10 problems
        assert p.lookup(None, budget).strategy == "beam"  # type: ignore[union-attr]
    cv = p.metadata["cv"]["per_budget"]["4"]
    assert cv["binned"] > cv["marginal"]  # held out, the per-bin choice beats one strategy


def test_fit_refuses_outcomes_without_pass_rates() -> None:
    outcomes, rates = outcomes_with_known_best()
    rates.pop("u0")
    with pytest.raises(ValueError, match="no pass@1"):
        fit_policy(outcomes, rates)


def test_signals_and_estimators() -> None:
    s = Signals(scores=[0.9, 0.7], answers=["\\frac12", "\\dfrac{1}{2}"],
                entropies=[0.1, 0.3], tokens=[10, 20], truncated=[False, True])
    assert agreement(s.answers) == 0.5  # different canonical strings: no agreement
    assert agreement(["\\dfrac{1}{2}", "\\frac{1}{2}"]) == 1.0
    assert agreement(["3", "3", None, "4"]) == 0.5 and agreement([None, None]) == 0.0
    f = s.features()
    assert f["verifier_mean"] == pytest.approx(0.8) and f["truncated"] == 0.5
    est = PredictedDifficulty([0.2, 0.4, 0.6, 0.8]).estimate("x", s)
    assert est.p_solve == pytest.approx(0.5 * (0.8 + f["agreement"]))
    assert PredictedDifficulty().estimate("x", None).bin is None
    o = OracleDifficulty({text_key("What is  1+1?"): 0.95})
    assert o.estimate("What is 1+1?", None).bin == 1  # whitespace-insensitive key
    assert o.estimate("other", None).bin is None
    assert token_entropy({"a": 0.0}) == 0.0
    assert token_entropy({"a": -0.6931, "b": -0.6931}) == pytest.approx(0.6931, abs=1e-3)


def test_learned_predictor_follows_its_signal() -> None:
    rows = [{"agreement": a, "noise": n} for a, n in
            [(1.0, 0.3), (0.9, 0.1), (0.5, 0.9), (0.4, 0.2), (0.1, 0.5), (0.0, 0.7)]]
    m = fit_predictor(rows, [0.95, 0.9, 0.5, 0.45, 0.1, 0.05], [0.2, 0.4, 0.6, 0.8])
    assert m.predict({"agreement": 1.0, "noise": 0.5}) > 0.8
    assert m.predict({"agreement": 0.0, "noise": 0.5}) < 0.2
    assert m.metadata["train_mae"] < 0.1
    assert abs(m.weights[m.features.index("noise")]) < m.weights[m.features.index("agreement")]
