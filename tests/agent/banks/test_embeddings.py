"""Embedding features for the learned verifier: on a synthetic bank where one component of
the samples' embeddings separates right from wrong and nothing else does, the scorer with
the embedding finds that component and beats majority voting on held-out problems, while
the same scorer without it does not; vectors survive their encoding; files that do not
belong to the bank are refused; `embed_bank` against a scripted pooling server embeds each
sample's verifier conversation, records every call, and continues a killed build."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from tests.fakes.openai_server import Answer, Failure, OpenAIServer, Pooled
from worldplan.agent.banks.bank_file import BankError, BankWriter, new_header, read_bank
from worldplan.agent.banks.embeddings import (
    EMBEDDINGS,
    attach_embeddings,
    attach_files,
    decode_vector,
    embedding_dim,
    embedding_header,
    encode_vector,
)
from worldplan.agent.banks.selection_eval import compare_selection, cross_fitted, training_rows
from worldplan.agent.cli.app import app
from worldplan.agent.control.scorer import feature_names, fit_scorer, select_c
from worldplan.agent.runs.bank_embed import embed_bank
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import LLMCall
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.embedding import embed
from worldplan.worldmodel.llm.errors import MalformedResponse

DIM = 16
SIGNAL = 5  # the component that tells right from wrong


def synthetic(tmp: Path, problems: int = 48, k: int = 8, seed: int = 0,
              dataset: str = "synthetic") -> tuple[Path, Path]:
    """A bank whose P(yes) and logprobs are the same for every sample, and its embeddings:
    noise, except component SIGNAL = +1 for a right sample and -1 for a wrong one (+ noise)."""
    rng = np.random.default_rng(seed)
    bank_path = tmp / "b.jsonl"
    w = BankWriter(bank_path, new_header(model="m", dataset=dataset, config={"k": k}))
    vectors: dict[str, list[str]] = {}
    for i in range(problems):
        p = rng.uniform(0.1, 0.5)
        samples, vs = [], []
        for _ in range(k):
            right = bool(rng.random() < p)
            samples.append({
                "text": f"so \\boxed{{{i}}}", "answer": "R" if right else
                f"w{rng.integers(0, 3)}", "correct": right, "score": 0.5, "scores": [0.5],
                "tokens": 100, "finish": "stop",
                "lp": {"mean": -0.3, "min": -3.0, "p10": -1.0, "entropy": 0.3,
                       "answer_mean": -0.5, "answer_entropy": 0.2, "n": 100.0}})
            v = rng.normal(0, 0.3, DIM)
            v[SIGNAL] += 1.0 if right else -1.0
            vs.append(encode_vector(v))
        w.append({"uid": f"s/{i}", "unit": "samples", "index": i, "samples": samples})
        vectors[f"s/{i}"] = vs
    bank = read_bank(bank_path)
    emb_path = tmp / "b.embeddings.jsonl"
    e = BankWriter(emb_path, embedding_header(bank, DIM))
    for i, (uid, vs) in enumerate(vectors.items()):
        e.append({"uid": uid, "unit": EMBEDDINGS, "index": i, "vectors": vs})
    return bank_path, emb_path


def test_vectors_survive_their_encoding_and_garbage_is_refused() -> None:
    v = np.random.default_rng(1).normal(0, 0.05, 1536)
    back = decode_vector(encode_vector(v))
    assert back.shape == (1536,) and np.allclose(back, v, atol=1e-4)
    for bad in ("not base64!", "", encode_vector([float("nan")])):
        with pytest.raises(BankError):
            decode_vector(bad)


def test_the_scorer_finds_the_separating_component_and_beats_majority(tmp_path: Path) -> None:
    bank_path, emb_path = synthetic(tmp_path)
    bank = read_bank(bank_path)
    assert attach_files([bank], [read_bank(emb_path)]) == []
    assert embedding_dim([bank]) == DIM
    names = feature_names("embedding", DIM)
    rows, labels, groups = training_rows(bank)
    c, grid = select_c(rows, labels, groups, [0.01, 1.0], features=names, folds=4)
    assert set(grid) == {0.01, 1.0} and c in grid
    scorer = fit_scorer(rows, labels, groups, model="m", c=c, features=names)
    weights = dict(zip(scorer.features, scorer.weights, strict=True))
    assert max(weights, key=lambda f: abs(weights[f])) == f"emb_{SIGNAL}"
    assert scorer.needs_embedding and scorer.metadata["cv"]["auroc_within_problems"] > 0.9
    with_emb = cross_fitted([bank], folds=4, model="m", features=names, c=c)
    at8 = compare_selection(bank, lambda uid: with_emb[uid], max_subsets=200)["per_k"]["8"]
    assert at8["learned_minus_majority"]["low"] > 0.05
    live = cross_fitted([bank], folds=4, model="m")  # the same samples without the embedding
    at8 = compare_selection(bank, lambda uid: live[uid], max_subsets=200)["per_k"]["8"]
    assert at8["learned_minus_majority"]["point"] <= 0.0


def test_files_that_do_not_belong_to_the_bank_are_refused(tmp_path: Path) -> None:
    bank_path, emb_path = synthetic(tmp_path, problems=3)
    other = tmp_path / "other"
    other.mkdir()
    _, other_emb = synthetic(other, problems=3, dataset="another")
    with pytest.raises(BankError, match="dataset"):
        attach_embeddings(read_bank(bank_path), read_bank(other_emb))
    renamed = tmp_path / "c.jsonl"
    renamed.write_bytes(bank_path.read_bytes())
    with pytest.raises(BankError, match="not among the banks"):
        attach_files([read_bank(renamed)], [read_bank(emb_path)])
    lines = emb_path.read_text().splitlines()
    unit = json.loads(lines[1])
    unit["vectors"] = unit["vectors"][:-1]  # one vector short
    emb_path.write_text("\n".join([lines[0], json.dumps(unit), *lines[2:]]) + "\n")
    with pytest.raises(BankError, match="7 vectors for 8 samples"):
        attach_embeddings(read_bank(bank_path), read_bank(emb_path))
    with pytest.raises(ValueError, match="bank embed"):
        feature_names("embedding", 0)
    with pytest.raises(ValueError, match="unknown feature set"):
        feature_names("everything")


class FakePooling(OpenAIServer):
    """A pooling server of model "m": each conversation's vector is [its length, 1, 0]
    (flat, as vLLM sends an embedding); `fail_after` answers, then 500s."""

    def __init__(self, fail_after: int | None = None) -> None:
        super().__init__(self.pool, model="m")
        self.fail_after = fail_after

    def pool(self, body: dict) -> Answer:
        if self.fail_after is not None and len(self.requests) > self.fail_after:
            return Failure("500")
        text = json.dumps(body["messages"])
        return Pooled([float(len(text)), 1.0, 0.0], prompt_tokens=len(text) // 4)


def test_embed_bank_embeds_the_verifier_conversation_and_continues(tmp_path: Path) -> None:
    data = tmp_path / "problems.jsonl"
    data.write_text("".join(json.dumps({"problem": f"What is {i}?", "answer": str(i),
                                        "unique_id": f"s/{i}"}) + "\n" for i in range(3)))
    bank_path, _ = synthetic(tmp_path, problems=3, k=2, dataset=str(data))
    bank = read_bank(bank_path)
    store = TraceStore(make_engine(f"sqlite:///{tmp_path}/t.db"))
    out = tmp_path / "out.jsonl"
    broken = FakePooling(fail_after=3)  # the 4th call fails: problem 2 is never written
    with pytest.raises(Exception, match="500"):
        embed_bank(bank, out, LLMClient("http://fake", "m", transport=broken.transport(),
                                        retries=0), model="m", store=store, concurrency=1)
    assert len(read_bank(out).units) == 1  # problem 0 (2 calls) and not problem 1
    fake = FakePooling()
    s = embed_bank(bank, out, LLMClient("http://fake", "m", transport=fake.transport()),
                   model="m", store=store, concurrency=1)
    assert (s.problems, s.embedded, s.kept) == (3, 2, 1)
    assert len(fake.requests) == 4 and all(r["task"] == "embed" and r["add_generation_prompt"]
                                           for r in fake.requests)
    first = fake.requests[0]["messages"]
    assert first[-3]["content"].endswith("What is 1?") and first[-2]["role"] == "assistant"
    assert "\\boxed{1}" in first[-2]["content"] and first[-1]["role"] == "user"
    attach_embeddings(bank, read_bank(out))
    sample = bank.unit("s/1", "samples")["samples"][0]
    assert sample["embedding"][1:] == [1.0, 0.0]
    with Session(store.engine) as sess:
        calls = sess.exec(select(LLMCall)).all()
    assert sum(not c.error for c in calls) == 3 + 4 and any(c.error for c in calls)
    with pytest.raises(BankError, match="serves 'other'"):
        embed_bank(bank, out, LLMClient("http://fake", "m", transport=fake.transport()),
                   model="other", store=store)
    with pytest.raises(BankError, match="not an embeddings file"):  # never into the bank
        embed_bank(bank, bank_path, LLMClient("http://fake", "m", transport=fake.transport()),
                   model="m", store=store)
    r = CliRunner().invoke(app, ["bank", "embed", str(bank_path)])
    assert r.exit_code != 0 and "--embed-url" in r.output


def test_a_server_that_does_not_send_a_vector_is_a_clear_error() -> None:
    class Rows(OpenAIServer):  # a token-classification server: rows of two, not a vector
        def __init__(self) -> None:
            super().__init__(lambda body: Pooled([[0.1, 0.9], [0.2, 0.8]], 5), model="m")

    client = LLMClient("http://fake", "m", transport=Rows().transport())
    with pytest.raises(MalformedResponse, match="--convert embed"):
        asyncio.run(embed(client, [{"role": "user", "content": "x"}]))
    empty = OpenAIServer(lambda body: Pooled([], 5), model="m")
    client = LLMClient("http://fake", "m", transport=empty.transport())
    with pytest.raises(MalformedResponse, match="0 rows"):
        asyncio.run(embed(client, [{"role": "user", "content": "x"}]))
