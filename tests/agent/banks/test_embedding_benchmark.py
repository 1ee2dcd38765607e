"""benchmarks/bank_eval.py --learned-features on two synthetic banks whose embeddings carry
the label in one component: with the embedding the learned verifier beats majority voting
held out and cross-fitted and separates right from wrong within problems (without it, it
does not: tests/agent/banks/test_embeddings.py); only the learned verifier's files are
written, with a suffix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import benchmarks.bank_eval as bank_eval
from tests.agent.banks.test_embeddings import synthetic

pytestmark = pytest.mark.slow  # about 15 s: the cross-fitted compute-optimal and batch tables


def run(tmp: Path, features: str, train: Path, held: Path) -> dict[str, dict]:
    bank_eval.main(budgets="1,2,4", folds=3, seed=0, train=train, heldout=held,
                   batch_options="best_of_n", batch_bins=2, learned_features=features,
                   c_grid="0.01,1")
    tag = f"-best_of_n-2-{features}"
    return {name: json.loads((tmp / f"bank_eval-learned-{name}{tag}.json").read_text())
            for name in ("heldout", "cv-pooled")}


def test_the_learned_verifier_finds_the_label_in_the_embedding(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "held").mkdir()
    train, _ = synthetic(tmp_path / "train", problems=30, seed=1)
    held, _ = synthetic(tmp_path / "held", problems=20, seed=2)
    monkeypatch.setattr(bank_eval, "RESULTS", tmp_path)
    emb = run(tmp_path, "embedding", train, held)
    assert not list(tmp_path.glob("bank_eval-heldout*"))  # the other tables are not redone
    for sel in emb.values():
        assert sel["features"] == "embedding"
        assert sel["per_k"]["8"]["learned_minus_majority"]["low"] > 0
        assert sel["auroc"]["auroc_within_problems"] > 0.9
    assert emb["heldout"]["C"] in (0.01, 1.0)
