"""Bootstrap intervals: they hold the point, narrow with more data, and handle the edges."""

from __future__ import annotations

import math

import pytest

from worldplan.traces.intervals import difference_ci, mean_ci


def test_an_accuracy_interval_holds_the_point_and_narrows_with_data() -> None:
    small = mean_ci([1, 0, 1, 1, 0, 1, 0, 1, 1, 0])
    large = mean_ci([1, 0, 1, 1, 0, 1, 0, 1, 1, 0] * 10)
    assert small.point == large.point == pytest.approx(0.6)
    assert small.low < 0.6 < small.high and large.low < 0.6 < large.high
    assert large.high - large.low < small.high - small.low
    assert 0.0 <= small.low and small.high <= 1.0
    assert mean_ci([1, 0, 1, 1]) == mean_ci([1, 0, 1, 1])  # seeded


def test_edges() -> None:
    assert str(mean_ci([])) == "n/a" and math.isnan(mean_ci([]).point)
    same = mean_ci([1, 1, 1])
    assert (same.point, same.low, same.high) == (1.0, 1.0, 1.0)


def test_paired_differences() -> None:
    d = difference_ci([1, 1, 1, 0, 1, 1, 0, 1], [0, 1, 0, 0, 1, 0, 0, 1])
    assert d.point == pytest.approx(0.375) and d.low <= d.point <= d.high
    with pytest.raises(ValueError, match="differ in length"):
        difference_ci([1], [1, 0])
