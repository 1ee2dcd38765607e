"""Grouping answers for votes: canonical strings by default, math-verify with a grader."""

from __future__ import annotations

from worldplan.envs.math.equivalence import grader_equal, group_answers, string_equal
from worldplan.envs.math.grader import Grader


def test_string_groups_only_equal_canonical_strings() -> None:
    answers = ["\\dfrac{1}{2}", "0.5", "\\frac{1}{2}", None, "3"]
    assert group_answers(answers, string_equal) == [0, 1, 0, None, 2]


def test_grader_groups_mathematically_equal_answers(grader: Grader) -> None:
    answers = ["3", "0.5", "\\frac{1}{2}", "", "50\\%", "x+1", "1+x", "\\frac{1}{3}"]
    assert group_answers(answers, grader_equal(grader)) == [0, 1, 1, None, 1, 2, 2, 3]


def test_each_distinct_answer_is_compared_once_per_group() -> None:
    asked: list[tuple[str, str]] = []

    def equal(a: str, b: str) -> bool:
        asked.append((a, b))
        return False

    assert group_answers(["1", "2", "1", "\\dfrac{2}{1}", "2"], equal) == [0, 1, 0, 2, 1]
    assert asked == [("2", "1"), ("\\dfrac{2}{1}", "1"), ("\\dfrac{2}{1}", "2")]
