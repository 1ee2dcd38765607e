"""Selection with answers grouped by mathematical equivalence (hand-derived cases)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from worldplan.agent.strategies.selection import select
from worldplan.envs.math.equivalence import grader_equal
from worldplan.envs.math.grader import Grader


@dataclass
class C:
    answer: str | None
    score: float | None = None


def test_half_and_a_fraction_vote_together(grader: Grader) -> None:
    cands = [C("3"), C("0.5"), C("\\frac{1}{2}")]
    assert select(cands, "majority") == 0  # three answers of one vote each: the first wins
    assert select(cands, "majority", grader_equal(grader)) == 1  # 0.5 = 1/2: two votes


@pytest.mark.parametrize(("how", "expected"), [("weighted", 2), ("naive", 0)])
def test_weighted_vote_sums_over_equivalent_answers(grader: Grader, how: str,
                                                    expected: int) -> None:
    # "7" has the single best score (0.9); 0.25 + 1/4 + 25% sum to 1.2 > 0.9
    cands = [C("7", 0.9), C("0.25", 0.3), C("\\frac{1}{4}", 0.5), C("25\\%", 0.4)]
    assert select(cands, how, grader_equal(grader)) == expected
    assert select(cands, "weighted") == 0  # by string, "7" wins 0.9 to 0.5
