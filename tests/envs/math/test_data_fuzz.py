"""Property tests of dataset loading (envs.math.data.load_problems) on untrusted files.

Any bytes in a .jsonl file, with any field map: a list of `MathProblem`s (a non-empty problem
and answer each, a level of None or 1-5) with the bad rows warned about, or
`DatasetUnavailable`, never another exception, and within the profile's deadline
(tests.fuzzing). A row without a level loads with level None.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzzing import TEST_TIMEOUT_S
from worldplan.envs.math.data import GSM8K, MATH, DatasetUnavailable, FieldMap, load_problems

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(10**300, 10**400),
                    st.floats(), st.text(max_size=12),
                    st.sampled_from(["Level 3", "Level ?", "5", "", "hard", "#### 4"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=10)
FIELDS = ["problem", "answer", "solution", "level", "subject", "unique_id", "question"]
rows = st.dictionaries(st.sampled_from(FIELDS), values, max_size=7)
lines = st.one_of(rows.map(json.dumps), values.map(json.dumps), st.text(max_size=40))
files = st.one_of(
    st.binary(max_size=300),
    st.lists(lines, max_size=8).map(lambda ls: "\n".join(ls).encode("utf-8", "surrogatepass")),
    st.integers(1, 100_000).map(lambda d: b"[" * d + b"]" * d))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("data_fuzz")


@given(files, st.sampled_from([MATH, GSM8K, FieldMap(level=None)]))
# found (each escaped load_problems before): RecursionError, a ValueError of int(), no
# problem loaded from a file without levels, UnicodeDecodeError
@example(b"[" * 100_000 + b"]" * 100_000, MATH)  # nesting deeper than json recurses
@example(b'{"problem": "1+1?", "answer": ' + b"9" * 5000 + b"}", MATH)  # a too long number
@example(b'{"problem": "1+1?", "answer": "2"}', MATH)  # no level: loads, level None
@example(b"\x1f\x8b\x08\x00", MATH)  # a gzip header, not UTF-8
def test_any_file_loads_or_is_unavailable(data_dir: Path, content: bytes,
                                          fields: FieldMap) -> None:
    path = data_dir / "d.jsonl"
    path.write_bytes(content)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            problems = load_problems(str(path), fields=fields)
    except DatasetUnavailable as e:
        assert str(path) in str(e)
        return
    assert problems
    for p in problems:
        assert p.problem.strip() and p.answer.strip()
        assert p.level is None or 1 <= p.level <= 5
