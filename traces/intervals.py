"""Bootstrap confidence intervals for the figures benchmarks report (scipy.stats.bootstrap,
BCa by default, percentile when BCa cannot be computed).

- `mean_ci(values)`: an accuracy (the mean of 0/1 outcomes) or any mean;
- `statistic_ci(rows, f)`: any statistic of per-problem rows (an efficiency ratio), by
  resampling rows (percentile);
- `difference_ci(a, b)`: the mean of paired differences (e.g. adaptive minus uniform on the
  same problems), resampling problems, not outcomes.
A sample whose values are all equal has a zero-width interval (the bootstrap has nothing to
resample); an empty one has none (NaN). Seeded, so a table is reproducible.
Not handled: clustered or stratified resampling.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 10_000


@dataclass(frozen=True)
class Interval:
    point: float
    low: float
    high: float
    n: int
    confidence: float = CONFIDENCE

    def __str__(self) -> str:
        if math.isnan(self.point):
            return "n/a"
        return f"{self.point:.3f} [{self.low:.3f}, {self.high:.3f}]"

    def to_dict(self) -> dict[str, float]:
        return {"point": self.point, "low": self.low, "high": self.high, "n": self.n,
                "confidence": self.confidence}


def _ci(data: np.ndarray, *, seed: int, confidence: float) -> Interval:
    n = int(data.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, confidence)
    point = float(data.mean())
    if n == 1 or bool(np.all(data == data[0])):
        return Interval(point, point, point, n, confidence)
    rng = np.random.default_rng(seed)
    for method in ("BCa", "percentile"):
        res = stats.bootstrap((data,), np.mean, confidence_level=confidence,
                              n_resamples=RESAMPLES, method=method, random_state=rng)
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if not (math.isnan(low) or math.isnan(high)):
            return Interval(point, low, high, n, confidence)
    return Interval(point, math.nan, math.nan, n, confidence)


def mean_ci(values: Sequence[float] | np.ndarray, *, seed: int = 0,
            confidence: float = CONFIDENCE) -> Interval:
    """The mean and its bootstrap interval (an accuracy, for 0/1 values)."""
    return _ci(np.asarray(values, dtype=float), seed=seed, confidence=confidence)


def difference_ci(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
                  seed: int = 0, confidence: float = CONFIDENCE) -> Interval:
    """The mean of paired differences a - b (the same problems), with its interval."""
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} and {len(b)}")
    return _ci(np.asarray(a, dtype=float) - np.asarray(b, dtype=float), seed=seed,
               confidence=confidence)


def statistic_ci(rows: np.ndarray, statistic: Callable[[np.ndarray], float], *,
                 seed: int = 0, confidence: float = CONFIDENCE,
                 resamples: int = 2_000) -> Interval:
    """Any statistic of a table with one row per problem (e.g. an efficiency ratio from
    per-problem accuracies), with a percentile interval from resampling rows."""
    rows = np.asarray(rows, dtype=float)
    n = int(rows.shape[0])
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, confidence)
    point = float(statistic(rows))
    if n == 1:
        return Interval(point, point, point, n, confidence)
    res = stats.bootstrap((np.arange(n),), lambda idx: statistic(rows[idx.astype(int)]),
                          confidence_level=confidence, n_resamples=resamples,
                          method="percentile", vectorized=False,
                          random_state=np.random.default_rng(seed))
    return Interval(point, float(res.confidence_interval.low),
                    float(res.confidence_interval.high), n, confidence)
