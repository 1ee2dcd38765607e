"""Property tests of answer extraction and normalisation (envs.math.answer) on model text.

`extract_boxed`, `extract_answer` and `gsm8k_answer` return a string or None and
`normalize_answer` a string, for any text, never raising and within the profile's deadline
(tests.fuzzing), long and pathological text included (thousands of unclosed boxes). Where a
property holds by construction it is checked too: a boxed answer with balanced braces is
extracted back; normalising is idempotent.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzzing import TEST_TIMEOUT_S
from worldplan.envs.math.answer import (
    extract_answer,
    extract_boxed,
    gsm8k_answer,
    normalize_answer,
)

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)

PIECES = ["\\boxed", "\\fbox", "{", "}", " ", "$", "\\", "\\frac", "12", "-3.0", "x^2",
          "the answer is", "Final answer:", ".", "\n", "####", ",", "\\text{", "\\left(",
          "\\right)", "\\dfrac", "^\\circ", "\\$", "\\!", "a", "\ud800", "\x00"]
mathy = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)
repeated = st.builds(lambda n, s: s * n, st.integers(1, 4000),
                     st.sampled_from(["\\boxed{", "{", "}", "\\boxed ", "the answer is ",
                                      "\\fbox{\\boxed{", "$", "\\text{a}"]))
untrusted = st.one_of(st.text(max_size=500), mathy, repeated)


@given(untrusted)
@example("\\boxed{" * 4000)  # found: unclosed boxes were rescanned to the end (quadratic)
@example("\\boxed " + "x" * 5000)
@example("the answer is " * 3000)
def test_extractors_return_text_or_none(text: str) -> None:
    for extract in (extract_boxed, extract_answer, gsm8k_answer):
        out = extract(text)
        assert out is None or isinstance(out, str)
    bare = extract_answer(text, bare=False)
    assert bare is None or isinstance(bare, str)


@given(untrusted)
@example("\\\r,")  # found (thorough): "\\\r," -> "\\," -> "": a second pass changed it
@example("\\l$eft(1)")  # "$" removed after "\\left" was: left a "\\left" behind
@example("\\le" * 500 + "ft" * 500)  # nested pieces: one pass each, still fast
def test_normalize_is_text_and_idempotent(text: str) -> None:
    once = normalize_answer(text)
    assert isinstance(once, str)
    assert normalize_answer(once) == once


balanced = st.recursive(st.text(alphabet=st.characters(blacklist_characters="{}\\$"),
                                max_size=10),
                        lambda inner: st.lists(inner, max_size=3).map(
                            lambda parts: "{" + "".join(parts) + "}"), max_leaves=10)


@given(st.text(max_size=100), balanced, st.text(alphabet=st.characters(
    blacklist_characters="\\"), max_size=100))
def test_last_balanced_box_is_extracted(before: str, content: str, after: str) -> None:
    text = f"{before}\\boxed{{{content}}}{after}"
    assert extract_boxed(text) == content.strip()
