"""Property tests of policy and predictor files (agent.control.versioned, policy, predictor).

- Any bytes in a file: `load_policy` gives a `Policy` or `PolicyError`, `load_predictor` a
  `DifficultyModel` or `PredictorError`, never another exception.
- Any JSON value, and a valid policy or predictor with one part replaced by any JSON value:
  the same, and what loads is well typed (bins None or 1-5, positive integer budgets,
  finite numbers, ascending cuts, positive std), so the controller never meets a
  half-valid table.
- Round trips: a policy or predictor written then read is equal to the one written.
All within the profile's deadline (tests.fuzzing), deeply nested JSON included.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.agent.control.policies import table_policy
from tests.fuzzing import TEST_TIMEOUT_S
from worldplan.agent.control.difficulty import N_BINS
from worldplan.agent.control.policy import Policy, PolicyEntry, PolicyError, load_policy
from worldplan.agent.control.policy import policy_from_dict as read_policy
from worldplan.agent.control.predictor import (
    DifficultyModel,
    PredictorError,
    load_predictor,
    model_from_dict,
)

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-2, 6),
                    st.integers(10**300, 10**400), st.floats(), st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=20)


def _model() -> DifficultyModel:
    return DifficultyModel(["a", "b"], [0.5, 1.0], [1.0, 2.0], [0.3, -0.2], 0.1,
                           [0.2, 0.4, 0.6, 0.8], 1.0, {"rows": 3})


def _paths(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*path, i))
    return out


def mutated(make: Any) -> st.SearchStrategy[dict[str, Any]]:
    """The JSON object `make()` returns, with the value at one of its paths replaced."""
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        data = make()
        path = draw(st.sampled_from(_paths(data)[1:]))
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = draw(json_values)
        return data
    return build()


def _real(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _check_policy(p: Policy) -> None:
    assert p.entries and all(_real(c) for c in p.cuts) and p.cuts == sorted(p.cuts)
    assert isinstance(p.probe["n"], int) and _real(p.probe["max_fraction"])
    for e in p.entries:
        assert e.bin is None or (type(e.bin) is int and 1 <= e.bin <= N_BINS)
        assert type(e.budget) is int and e.budget >= 1
        assert isinstance(e.strategy, str) and e.strategy and isinstance(e.params, dict)
        assert e.accuracy is None or _real(e.accuracy)
        assert e.tokens is None or _real(e.tokens)
        assert type(e.n) is int and e.n >= 0
    assert isinstance(p.metadata, dict) and isinstance(p.domain, str)


def _check_model(m: DifficultyModel) -> None:
    assert len(m.features) == len(m.mean) == len(m.std) == len(m.weights)
    assert all(_real(v) for v in [*m.mean, *m.std, *m.weights, *m.cuts, m.bias, m.l2])
    assert all(s > 0 for s in m.std) and isinstance(m.metadata, dict)


def _policy_or_error(data: Any) -> None:
    try:
        p = read_policy(data, where="fuzz")
    except PolicyError:
        return
    _check_policy(p)


def _model_or_error(data: Any) -> None:
    try:
        m = model_from_dict(data, where="fuzz")
    except PredictorError:
        return
    _check_model(m)


@given(json_values)
def test_any_json_is_a_policy_or_a_policy_error(data: Any) -> None:
    _policy_or_error(data)
    _model_or_error(data)


@given(mutated(lambda: table_policy().to_dict()))
@example({**table_policy().to_dict(), "metadata": "ab"})  # found: dict("ab") -> ValueError
@example({**table_policy().to_dict(), "probe": {"n": math.inf}})  # found: OverflowError
@example({**table_policy().to_dict(), "entries": [  # found: n=inf -> OverflowError
    {"bin": None, "budget": 4, "strategy": "best_of_n", "n": math.inf}]})
@example({**table_policy().to_dict(), "entries": [  # found: true taken for bin 1 / budget 1
    {"bin": True, "budget": True, "strategy": "best_of_n"},
    {"bin": None, "budget": 4, "strategy": "best_of_n", "accuracy": "high"}]})
@example({**table_policy().to_dict(), "cuts": [0.1, math.nan]})
def test_a_policy_with_one_bad_part(data: dict[str, Any]) -> None:
    _policy_or_error(data)


@given(mutated(lambda: _model().to_dict()))
@example({**_model().to_dict(), "mean": [10**400, 1]})  # found: float(int) OverflowError
@example({**_model().to_dict(), "weights": [math.nan, 1.0]})  # found: a nan weight loaded
@example({**_model().to_dict(), "std": [math.inf, 1.0]})
def test_a_predictor_with_one_bad_part(data: dict[str, Any]) -> None:
    _model_or_error(data)


@pytest.fixture(scope="module")
def file_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("policy_fuzz")


file_bytes = st.one_of(
    st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
    mutated(lambda: table_policy().to_dict()).map(lambda d: json.dumps(d).encode()),
    st.integers(1, 100_000).map(lambda d: b"[" * d + b"]" * d))


@given(file_bytes)
@example(b"[" * 100_000 + b"]" * 100_000)  # found: RecursionError escaped read_versioned
@example(b"\xff\xfe")
def test_any_file_is_read_or_refused(file_dir: Path, content: bytes) -> None:
    path = file_dir / "f.json"
    path.write_bytes(content)
    try:
        _check_policy(load_policy(path))
    except PolicyError:
        pass
    try:
        _check_model(load_predictor(path))
    except PredictorError:
        pass


finite = st.floats(-1e6, 1e6, allow_nan=False)
params = st.dictionaries(st.text(max_size=8), st.one_of(st.integers(-5, 50), st.text(max_size=8),
                                                       finite), max_size=3)
entries = st.builds(PolicyEntry, st.one_of(st.none(), st.integers(1, N_BINS)),
                    st.integers(1, 64), st.text(min_size=1, max_size=12), params,
                    st.one_of(st.none(), st.floats(0, 1)), st.integers(0, 1000),
                    st.one_of(st.none(), finite), st.text(max_size=20))
policies = st.builds(
    lambda rows, first, cuts, n, frac, meta: Policy(
        [first, *rows], sorted(cuts), {"n": n, "max_fraction": frac}, _model().to_dict(),
        "math", meta),
    st.lists(entries, max_size=6),
    entries.map(lambda e: PolicyEntry(None, e.budget, e.strategy, e.params, e.accuracy, e.n,
                                      e.tokens, e.note)),
    st.lists(st.floats(0, 1), max_size=4), st.integers(0, 8), st.floats(0, 1),
    st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=8)),
                    max_size=3))


@given(policies)
def test_policy_round_trip(file_dir: Path, policy: Policy) -> None:
    path = policy.save(file_dir / "round.json")
    again = load_policy(path)
    assert again.to_dict() == policy.to_dict()
    assert again.entries == policy.entries


models = st.integers(1, 4).flatmap(lambda k: st.builds(
    DifficultyModel, st.lists(st.text(max_size=6), min_size=k, max_size=k),
    st.lists(finite, min_size=k, max_size=k),
    st.lists(st.floats(1e-6, 1e6), min_size=k, max_size=k),
    st.lists(finite, min_size=k, max_size=k), finite, st.lists(st.floats(0, 1), max_size=4),
    st.floats(0, 10), st.dictionaries(st.text(max_size=6), st.integers(), max_size=2)))


@given(models)
def test_predictor_round_trip(file_dir: Path, model: DifficultyModel) -> None:
    again = load_predictor(model.save(file_dir / "model.json"))
    assert again.to_dict() == model.to_dict()
