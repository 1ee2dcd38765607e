"""Policy and predictor files: JSON round trip, version check, clear errors on bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.agent.control.policies import table_policy
from worldplan.agent.control.policy import DEFAULT_POLICY, PolicyError, load_policy
from worldplan.agent.control.predictor import PredictorError, fit_predictor, load_predictor


def test_policy_round_trip(tmp_path: Path) -> None:
    p = table_policy()
    path = p.save(tmp_path / "p.json")
    q = load_policy(path)
    assert q.entries == p.entries and q.cuts == p.cuts and q.metadata == p.metadata
    assert q.source == str(path)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(version=99), "policy version 99"),
    (lambda d: d.update(format="other"), "not a worldplan policy"),
    (lambda d: d.pop("entries"), "bad or missing field"),
    (lambda d: d["entries"][0].update(bin=9), "bin must be null or 1..5"),
    (lambda d: d["entries"][0].update(budget="x"), "budget must be a positive integer"),
    (lambda d: d.update(entries=[e for e in d["entries"] if e["bin"] is not None]),
     "no row for unknown difficulty"),
    (lambda d: d.update(cuts=[0.9, 0.1]), "cuts must be ascending"),
    (lambda d: d.update(predictor={"format": "worldplan-difficulty-predictor", "version": 0}),
     "predictor version 0"),
])
def test_bad_policy_is_a_clear_error(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    d = table_policy().to_dict()
    mutate(d)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d))
    with pytest.raises(PolicyError, match=message) as e:
        load_policy(path)
    assert str(path) in str(e.value)


def test_corrupt_and_missing_policy_files(tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.json"
    bad.write_text('{"format": "worldplan-policy", "entr')
    with pytest.raises(PolicyError, match="not a readable JSON file"):
        load_policy(bad)
    with pytest.raises(PolicyError, match="no policy file"):
        load_policy(tmp_path / "absent.json")


def test_bundled_default_policy_loads_and_says_what_it_was_fitted_on() -> None:
    p = load_policy()
    assert p.source == str(DEFAULT_POLICY)
    assert p.metadata["fitted_on"] and p.metadata.get("models")
    assert p.lookup(None, p.budgets[0]) is not None


def test_predictor_round_trip_and_version(tmp_path: Path) -> None:
    rows = [{"agreement": a, "verifier_mean": v} for a, v in
            [(1.0, 0.9), (0.5, 0.6), (0.0, 0.2), (1.0, 0.7), (0.5, 0.3), (0.0, 0.4)]]
    model = fit_predictor(rows, [0.9, 0.5, 0.1, 0.8, 0.4, 0.2], [0.2, 0.4, 0.6, 0.8])
    path = model.save(tmp_path / "pred.json")
    again = load_predictor(path)
    assert again == model
    assert again.predict(rows[0]) == pytest.approx(model.predict(rows[0]))
    d = json.loads(path.read_text())
    d["version"] = 2
    path.write_text(json.dumps(d))
    with pytest.raises(PredictorError, match="predictor version 2"):
        load_predictor(path)
    path.write_text("not json")
    with pytest.raises(PredictorError, match="not a readable JSON"):
        load_predictor(path)
