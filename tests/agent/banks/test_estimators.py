"""Unbiased best-of-n from K samples: equal to the live selection rules averaged over every
n-subset and every order of it (brute force), and to hand-derived cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from worldplan.agent.banks.estimators import best_of_n, pass_at_k, subsets
from worldplan.agent.strategies.selection import select


class C:
    def __init__(self, answer: str | None, score: float | None) -> None:
        self.answer, self.score = answer, score


def brute(classes: list[int], scores: list[float], correct: list[bool], n: int,
          how: str) -> float:
    """The live rule on every n-subset in every order, averaged."""
    total, count = 0.0, 0
    for sub in itertools.combinations(range(len(classes)), n):
        for order in itertools.permutations(sub):
            cands = [C(None if classes[i] < 0 else f"a{classes[i]}",
                       None if math.isnan(scores[i]) else scores[i]) for i in order]
            idx = select(cands, how)
            total += float(idx is not None and correct[order[idx]])
            count += 1
    return total / count


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("how", ["naive", "majority", "weighted"])
def test_exact_estimate_equals_the_live_rule_over_subsets_and_orders(seed: int,
                                                                    how: str) -> None:
    rng = np.random.default_rng(seed)
    k = 6
    classes = rng.integers(-1, 3, size=k)
    scores = rng.choice([0.0, 0.25, 0.5, 1.0, math.nan], size=k)  # ties happen
    right_class = 0
    correct = classes == right_class
    for n in range(1, k + 1):
        got = best_of_n(classes, scores, correct, n, how)
        want = brute(classes.tolist(), scores.tolist(), correct.tolist(), n, how)
        assert got == pytest.approx(want, abs=1e-9), (n, classes, scores)


def test_weighted_picks_the_largest_summed_score_not_the_most_frequent() -> None:
    classes = np.array([0, 1, 1])  # 0 right, once, scored 0.9; 1 wrong, twice, 0.3 each
    scores = np.array([0.9, 0.3, 0.3])
    correct = classes == 0
    assert best_of_n(classes, scores, correct, 3, "weighted") == 1.0
    assert best_of_n(classes, scores, correct, 3, "majority") == 0.0
    # n=2: {0,1} and {0,2} pick 0, {1,2} picks 1
    assert best_of_n(classes, scores, correct, 2, "weighted") == pytest.approx(2 / 3)


def test_sampled_subsets_estimate_the_exact_value() -> None:
    rng = np.random.default_rng(3)
    classes = rng.integers(0, 4, size=16)
    scores = rng.random(16)
    correct = classes == 1
    exact = best_of_n(classes, scores, correct, 8, "weighted", max_subsets=20_000)
    sampled = best_of_n(classes, scores, correct, 8, "weighted", max_subsets=3000)
    assert math.comb(16, 8) > 3000  # really sampled
    assert sampled == pytest.approx(exact, abs=0.03)


def test_fixed_samples_join_every_subset() -> None:
    rows = subsets([0, 1, 2], 2)
    assert rows.shape == (3, 2)
    classes, scores = np.array([1, 1, 1, 0]), np.array([0.1, 0.1, 0.1, 0.9])
    correct = classes == 0
    assert best_of_n(classes, scores, correct, 1, "naive", pool=[0, 1, 2], fixed=[3]) == 1.0
    assert best_of_n(classes, scores, correct, 2, "majority", pool=[0, 1, 2]) == 0.0


def test_pass_at_k() -> None:
    assert pass_at_k(4, 1, 1) == 0.25
    assert pass_at_k(4, 1, 4) == 1.0
    assert pass_at_k(4, 0, 2) == 0.0
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)
