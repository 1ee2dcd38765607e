"""Unbiased accuracy of a selection rule at n samples, from K >= n samples of one problem.

Each function returns the expected accuracy over the C(K, n) equally likely n-subsets of the
K samples (like pass@k, Chen et al. 2021): exactly, by a formula or by enumerating the
subsets when there are at most `max_subsets`, else by that many subsets drawn without
replacement of samples by a seeded generator (the estimate is then unbiased, not exact).
`fixed` samples (a probe's) are in every subset, on top of the n drawn from `pool`.

Inputs per problem, shape (K,): `classes` the answer's class (-1: no answer; classes are
equivalence classes of final answers), `scores` the verifier score (NaN: no verdict: a
vote counts it 0, naive ranks it below every score, as agent.strategies.selection does),
`correct` whether the sample is right.
Ties are credited as agent.strategies.selection breaks them, in expectation over the random
order of the samples: it keeps the first of the tied answers (the first of the tied
candidates for naive), so a tied answer wins with the share of the tied candidates that
give it (a tied candidate, 1 / number tied, for naive).
Not handled: selection over candidates of different kinds (see agent.banks.configs).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

MAX_SUBSETS = 2000


def pass_at_k(k_total: int, c: int, k: int) -> float:
    """P(at least one right among k of k_total samples, c of them right)."""
    if k_total - c < k:
        return 1.0
    return 1.0 - math.comb(k_total - c, k) / math.comb(k_total, k)


def subsets(pool: Sequence[int], n: int, *, max_subsets: int = MAX_SUBSETS,
            seed: int = 0) -> np.ndarray:
    """All n-subsets of `pool` as rows (S, n), or `max_subsets` random ones."""
    pool = list(pool)
    if n > len(pool) or n < 0:
        raise ValueError(f"cannot draw {n} of {len(pool)} samples")
    if math.comb(len(pool), n) <= max_subsets:
        return np.array(list(itertools.combinations(pool, n)), dtype=int).reshape(-1, n)
    rng = np.random.default_rng(seed)
    order = rng.random((max_subsets, len(pool))).argsort(axis=1)[:, :n]  # (S, n)
    return np.asarray(pool, dtype=int)[order]


def select_accuracy(rows: np.ndarray, classes: np.ndarray, scores: np.ndarray,
                    correct: np.ndarray, how: str) -> float:
    """Mean accuracy of selection rule `how` (naive | majority | weighted) over the index
    rows (S, m) of candidates."""
    if rows.size == 0:
        return 0.0
    cls, ok = classes[rows], correct[rows]
    sc = np.nan_to_num(scores[rows], nan=0.0)  # a vote counts a missing score as 0
    ranked = np.nan_to_num(scores[rows], nan=-1.0)  # naive ranks it below any score
    if how == "naive":
        return float(np.mean(_naive(cls, ranked, ok)))
    n_cls = int(classes.max()) + 1 if classes.size and classes.max() >= 0 else 0
    right = np.zeros(max(n_cls, 1), dtype=bool)
    for c in np.unique(classes[correct & (classes >= 0)]):
        right[c] = True
    if n_cls == 0:
        return float(np.mean(_naive(cls, ranked, ok)))
    onehot = (cls[..., None] == np.arange(n_cls)) & (cls[..., None] >= 0)  # (S, m, C)
    counts = onehot.sum(axis=1).astype(float)  # (S, C)
    if how == "weighted":
        totals = (onehot * sc[..., None]).sum(axis=1)  # (S, C)
        unverified = totals.max(axis=1) <= 0.0  # nothing verified: majority
        totals[unverified] = counts[unverified]
    elif how == "majority":
        totals = counts
    else:
        raise ValueError(f"unknown selection {how!r}")
    answered = counts.sum(axis=1) > 0
    top = totals.max(axis=1, keepdims=True)
    members = np.where((totals == top) & (counts > 0), counts, 0.0)  # tied classes' (S, C)
    acc = (members * right).sum(axis=1) / np.maximum(members.sum(axis=1), 1)
    fallback = _naive(cls, ranked, ok)  # no candidate answered: the best-scored one
    return float(np.mean(np.where(answered, acc, fallback)))


def _naive(cls: np.ndarray, sc: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Per row: the share of right ones among the highest-scored candidates with an
    answer (among all candidates if none has one)."""
    has = cls >= 0
    eligible = np.where(has.any(axis=1, keepdims=True), has, True)
    s = np.where(eligible, sc, -np.inf)
    top = s == s.max(axis=1, keepdims=True)
    return (top & ok).sum(axis=1) / np.maximum(top.sum(axis=1), 1)


def best_of_n(classes: np.ndarray, scores: np.ndarray, correct: np.ndarray, n: int,
              how: str, *, pool: Sequence[int] | None = None, fixed: Sequence[int] = (),
              max_subsets: int = MAX_SUBSETS, seed: int = 0) -> float:
    """Expected accuracy of best-of-n (`how`) over n-subsets of `pool` (default: all
    samples), with the `fixed` samples added to every subset."""
    pool = list(range(len(classes))) if pool is None else list(pool)
    rows = subsets(pool, n, max_subsets=max_subsets, seed=seed)
    if fixed:
        rows = np.hstack([rows, np.tile(np.asarray(fixed, dtype=int), (len(rows), 1))])
    return select_accuracy(rows, classes, scores, correct, how)
