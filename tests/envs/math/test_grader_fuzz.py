"""Property tests of the grader's input (envs.math.grader.Grader.grade) on untrusted answers.

Any (prediction, reference) pair of strings gets a `Grade` (correct: bool, status one of ok,
timeout, error, no_answer), never an exception, within the grader's hard timeout plus one
worker restart; an answer equal to the reference up to its canonical string is correct. The
real math-verify worker runs them; pathological inputs (towers of powers, huge factorials)
must end as "timeout" or "error", not hang.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.fuzzing import TEST_TIMEOUT_S
from worldplan.envs.math.answer import normalize_answer
from worldplan.envs.math.grader import STARTUP_TIMEOUT_S, Grader

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)

TIMEOUT_S = 5.0  # the grader's hard limit per comparison in these tests (seconds)
STATUSES = {"ok", "timeout", "error", "no_answer"}
LATEX = ["\\frac{", "}{", "}", "{", "\\sqrt", "^", "_", "(", ")", "[", "]", ",", "\\pi",
         "\\infty", "x", "y", "1", "2", "0.5", "-", "+", "*", "/", "=", "\\cup", "\\cap",
         "\\text{", "\\left(", "\\right)", "!", "\\boxed{", "$", "\\", " ", "\\le", "e",
         "10^{10^{10}}", "\ud800", "\x00", "\n", "\\begin{pmatrix}", "\\end{pmatrix}", "&"]
answers = st.one_of(st.text(max_size=60), st.lists(st.sampled_from(LATEX), max_size=25)
                    .map("".join))
references = st.one_of(st.sampled_from(["7", "\\frac{1}{2}", "\\left( 3, \\frac{\\pi}{2} "
                                        "\\right)", "x^2+1", "\\text{Evelyn}", "[-2,7]",
                                        "\\sqrt{2}", "10", "(-\\infty, 0)"]), answers)


@pytest.fixture(scope="module")
def fuzz_grader() -> Iterator[Grader]:
    """A grader with a short timeout, shared by the examples (not the session's 30 s one)."""
    with Grader(timeout_s=TIMEOUT_S) as g:
        yield g


@settings(deadline=None)  # bounded by the grader's own timeout, asserted below
@given(pred=answers, gold=references)
@example(pred="9^{9^{9^{9}}}", gold="1")  # sympy computes this for ever: must time out
@example(pred="\ud800", gold="1")  # a lone surrogate
@example(pred="\\frac{", gold="\\frac{1}{2}")
@example(pred="100!" * 20, gold="1")
def test_any_pair_gets_a_grade(fuzz_grader: Grader, pred: str, gold: str) -> None:
    t0 = time.perf_counter()
    grade = fuzz_grader.grade(pred, gold)
    elapsed = time.perf_counter() - t0
    assert isinstance(grade.correct, bool) and grade.status in STATUSES
    assert isinstance(grade.detail, str)
    assert elapsed <= TIMEOUT_S + STARTUP_TIMEOUT_S
    if not pred.strip():
        assert grade.status == "no_answer" and not grade.correct
    elif normalize_answer(pred) == normalize_answer(gold):
        assert grade.correct
