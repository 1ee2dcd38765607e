"""`worldplan bank eval | merge`, `worldplan fit-policy --bank` and `worldplan verifier fit |
eval` through the CLI (Typer's CliRunner) on synthetic banks: the tables, the JSON and the
plot are written, the policy loads and decides on the probe's statistic, the learned
verifier is refused for another model, and bad banks are one clear line each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.agent.banks.test_embeddings import synthetic
from tests.agent.banks.test_scorer import write_bank
from worldplan.agent.banks.bank_file import BankWriter, new_header, read_bank
from worldplan.agent.banks.synthetic import SyntheticSpec, write_synthetic
from worldplan.agent.cli.app import app
from worldplan.agent.control.decide import make_estimator
from worldplan.agent.control.difficulty import Signals
from worldplan.agent.control.policy import load_policy
from worldplan.agent.control.scorer import FEATURE_SETS

runner = CliRunner()


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = SyntheticSpec(problems=40, k=8, beam_budgets=(1, 2, 4, 8))
    return write_synthetic(spec, tmp_path_factory.mktemp("bank") / "syn.jsonl")


def test_bank_eval_prints_tables_and_writes_json_and_plot(bank: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["bank", "eval", str(bank), "--budgets", "1,2,4,8", "--folds", "4",
                            "--max-subsets", "100", "--json", str(tmp_path / "r.json"),
                            "--plot", str(tmp_path / "r.png")])
    assert r.exit_code == 0, r.output
    assert "compute-optimal (oracle)" in r.output and "efficiency" in r.output
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["slice"]["problems"] == 40 and result["slice"]["k"] == 8
    assert set(result["compute_optimal"]) == {"1", "2", "4", "8"}
    assert (tmp_path / "r.png").stat().st_size > 10_000


def test_fit_policy_from_a_bank_decides_on_the_probe_statistic(bank: Path,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "policy.json"
    r = runner.invoke(app, ["fit-policy", "--bank", str(bank), "-o", str(out)])
    assert r.exit_code == 0, r.output
    policy = load_policy(out)
    assert policy.probe["statistic"] == "verifier_mean" and policy.budgets == list(range(1, 9))
    assert policy.metadata["bank"]["model"] == "synthetic"
    est = make_estimator("auto", policy)
    low = est.estimate("x", Signals(scores=[0.0, 0.0], answers=["a", "b"]))
    high = est.estimate("x", Signals(scores=[1.0, 1.0], answers=["a", "a"]))
    assert low.bin == 5 and high.bin is not None and high.bin < low.bin
    assert "verifier_mean" in low.reason


def test_merge_refuses_another_dataset_in_one_line(bank: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.jsonl"
    BankWriter(other, new_header(model="synthetic", dataset="elsewhere",
                                 config=read_bank(bank).config))
    r = runner.invoke(app, ["bank", "merge", str(bank), str(other), "-o",
                            str(tmp_path / "m.jsonl")])
    assert r.exit_code == 1
    assert "dataset 'elsewhere' differs from 'synthetic'" in r.output
    assert "Traceback" not in r.output and not (tmp_path / "m.jsonl").exists()


def test_a_corrupt_bank_is_reported_and_still_evaluated(bank: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(bank.read_bytes() + b'{"uid": "synthetic/x", "unit": "sam')
    r = runner.invoke(app, ["bank", "eval", str(broken), "--budgets", "1,2", "--folds", "2",
                            "--max-subsets", "50"])
    assert r.exit_code == 0, r.output
    assert "ends mid-line" in r.output
    r = runner.invoke(app, ["bank", "eval", str(tmp_path / "missing.jsonl")])
    assert r.exit_code == 1 and "no bank file" in r.output


def test_verifier_fit_and_eval(tmp_path: Path) -> None:
    bank = write_bank(tmp_path / "b.jsonl")
    out = tmp_path / "scorer.json"
    r = runner.invoke(app, ["verifier", "fit", str(bank), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "answer_lp" in r.output.splitlines()[-len(FEATURE_SETS["live"])]  # largest first
    r = runner.invoke(app, ["verifier", "eval", str(bank), "--scorer", str(out),
                            "--max-subsets", "50", "--json", str(tmp_path / "s.json")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "s.json").read_text())["k"] == 8
    r = runner.invoke(app, ["verifier", "eval", str(bank), "--cross", str(bank),
                            "--max-subsets", "50"])
    assert r.exit_code == 0 and "learned-w" in r.output, r.output
    other = tmp_path / "other.jsonl"
    other.write_text(bank.read_text().replace('"model":"m"', '"model":"n"', 1))
    r = runner.invoke(app, ["verifier", "eval", str(other), "--scorer", str(out)])
    assert r.exit_code == 1 and "trained on 'm'" in r.output


def test_verifier_fit_and_eval_with_embeddings(tmp_path: Path) -> None:
    bank, embeddings = synthetic(tmp_path, problems=24)
    out = tmp_path / "scorer.json"
    r = runner.invoke(app, ["verifier", "fit", str(bank), "-o", str(out), "--features",
                            "embedding"])
    assert r.exit_code == 1 and "bank embed" in r.output  # no embeddings given
    r = runner.invoke(app, ["verifier", "fit", str(bank), "-o", str(out), "--features",
                            "embedding", "--embeddings", str(embeddings), "--c-grid", "0.01,1"])
    assert r.exit_code == 0, r.output
    assert "chosen" in r.output and "emb_5" in r.output
    r = runner.invoke(app, ["verifier", "eval", str(bank), "--scorer", str(out),
                            "--max-subsets", "50"])
    assert r.exit_code == 1 and "--embeddings" in r.output  # it reads embeddings
    r = runner.invoke(app, ["verifier", "eval", str(bank), "--scorer", str(out),
                            "--embeddings", str(embeddings), "--max-subsets", "50",
                            "--json", str(tmp_path / "s.json")])
    assert r.exit_code == 0, r.output
    at8 = json.loads((tmp_path / "s.json").read_text())["per_k"]["8"]
    assert at8["weighted_learned"]["point"] > at8["majority"]["point"]
    r = runner.invoke(app, ["verifier", "eval", str(bank), "--cross", str(bank),
                            "--features", "embedding-only", "--c", "0.1", "--embeddings",
                            str(embeddings), "--max-subsets", "50"])
    assert r.exit_code == 0 and "embedding-only, C=0.1" in r.output, r.output
