"""Grading on math-verify: hard equivalences, a timeout that does not hang, any thread."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from worldplan.envs.math.grader import Grader

EQUIVALENT = [
    ("\\frac12", "0.5"),
    ("0.5", "\\frac{1}{2}"),
    ("\\dfrac{\\sqrt3}{2}", "\\frac{\\sqrt{3}}{2}"),
    ("(-\\infty, 3]", "(-\\infty,3]"),
    ("[2, 5)", "[2,5)"),
    ("(3,\\pi/2)", "\\left( 3, \\frac{\\pi}{2} \\right)"),
    ("(1, 2, 3)", "(1,2,3)"),
    ("x=3", "3"),
    ("5 \\text{ cm}", "5"),
    ("90^\\circ", "90"),
    ("\\$32", "32"),
    ("\\text{Evelyn}", "Evelyn"),
    ("\\text{(C)}", "\\text{(C)}"),
    ("2, 3", "3, 2"),
]
DIFFERENT = [
    ("\\frac12", "0.6"),
    ("(-\\infty, 3]", "(-\\infty,3)"),
    ("(1,2)", "(2,1)"),
    ("\\text{Monday}", "\\text{Tuesday}"),
    ("x=4", "3"),
]


@pytest.mark.parametrize("pred, gold", EQUIVALENT)
def test_equivalent(grader: Grader, pred: str, gold: str) -> None:
    g = grader.grade(pred, gold)
    assert g.correct, g


@pytest.mark.parametrize("pred, gold", DIFFERENT)
def test_different(grader: Grader, pred: str, gold: str) -> None:
    assert not grader.grade(pred, gold).correct


def test_missing_answer_is_wrong(grader: Grader) -> None:
    g = grader.grade(None, "3")
    assert (g.correct, g.status) == (False, "no_answer")


def test_timeout_does_not_hang_and_works_off_the_main_thread() -> None:
    """9^(9^(9^9)) makes sympy compute for ever; with math-verify's own alarm out of the way
    (inner timeout 60 s), only the hard timeout can stop it: the worker is killed."""
    with Grader(timeout_s=2, inner_timeout_s=60) as g, ThreadPoolExecutor(1) as pool:
        t0 = time.perf_counter()
        slow = pool.submit(g.grade, "9^{9^{9^{9}}}", "1").result(timeout=60)
        took = time.perf_counter() - t0
        assert (slow.correct, slow.status) == (False, "timeout")
        assert took < 20
        after = pool.submit(g.grade, "\\frac{2}{4}", "0.5").result(timeout=60)  # new worker
        assert after.correct and after.status == "ok"


def test_inner_timeout_answers_without_killing() -> None:
    with Grader(timeout_s=20, inner_timeout_s=1) as g:
        t0 = time.perf_counter()
        slow = g.grade("9^{9^{9^{9}}}", "1")
        assert not slow.correct and slow.status != "timeout"
        assert time.perf_counter() - t0 < 20
