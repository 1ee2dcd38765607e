"""Property tests of the yes/no verdict read from logprobs (worldmodel.llm.yesno).

`yes_no_from_logprobs(token)` returns (p_yes, mass) with both in [0, 1] for any token and
any top list the server sends (any token strings, any float logprobs: -inf, nan, positive
or huge values included), never an exception; with only a "Yes" and a "No" of valid
logprobs, p_yes is P(Yes) / (P(Yes) + P(No)).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzzing import TEST_TIMEOUT_S
from worldplan.worldmodel.llm.generation import TokenLogprob
from worldplan.worldmodel.llm.yesno import yes_no_from_logprobs

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)

words = st.one_of(st.text(max_size=8), st.sampled_from(
    ["Yes", " yes", "YES.", "No", " no", "n", "y", "True", "false", "**Yes**", "Correct", ""]))
logprobs = st.one_of(st.floats(), st.floats(-50, 0), st.sampled_from(
    [0.0, -math.inf, math.inf, math.nan, 1000.0, -1e-300, 710.0]))
tokens = st.builds(TokenLogprob, words, logprobs, st.dictionaries(words, logprobs, max_size=8))


@given(tokens)
@example(TokenLogprob("Yes", 1000.0, {}))  # found: math.exp overflowed (OverflowError)
@example(TokenLogprob("Yes", math.nan, {"No": -1.0}))  # found: p_yes and mass were nan
@example(TokenLogprob("Yes", 0.0, {"Yes": 0.0, "yes": 0.0, "No": -math.inf}))
def test_verdict_is_a_probability(token: TokenLogprob) -> None:
    p, mass = yes_no_from_logprobs(token)
    assert 0.0 <= p <= 1.0 and 0.0 <= mass <= 1.0


@given(st.floats(-30, 0), st.floats(-30, 0))
def test_yes_against_no(yes: float, no: float) -> None:
    p, mass = yes_no_from_logprobs(TokenLogprob("Yes", yes, {"Yes": yes, "No": no}))
    py, pn = math.exp(yes), math.exp(no)
    assert p == pytest.approx(py / (py + pn)) and mass == pytest.approx(min(py + pn, 1.0))
