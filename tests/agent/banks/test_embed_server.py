"""Embeddings from a real vLLM pooling server (`worldplan serve --embed`'s runner) of the test
model: unit vectors of the model's hidden size, the same for the same conversation and
different for different ones; `embed_bank` embeds a small bank's samples through it, and
the vectors read back attach to the samples as scorer features."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from worldplan.agent.banks.bank_file import BankWriter, new_header, read_bank
from worldplan.agent.banks.embeddings import attach_embeddings
from worldplan.agent.control.scorer import feature_names, sample_features
from worldplan.agent.runs.bank_embed import embed_bank
from worldplan.traces.engine import make_engine
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.embedding import embed
from worldplan.worldmodel.llm.models import DEFAULT_TEST_MODEL, resolve_model
from worldplan.worldmodel.llm.serving import ServerInfo, free_port, start_server, stop_server

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.fixture(scope="module")
def pooling() -> Iterator[ServerInfo]:
    model = resolve_model(os.environ.get("WORLDPLAN_TEST_MODEL", DEFAULT_TEST_MODEL))
    info = start_server(model, port=free_port(), max_model_len=1024, reuse=False,
                        runner="embed", kv_cache_gib=1)
    try:
        yield info
    finally:
        stop_server(info.port)


def test_embeddings_are_unit_vectors_that_tell_conversations_apart(pooling: ServerInfo
                                                                   ) -> None:
    client = LLMClient(pooling.url, pooling.model)

    async def three() -> list[list[float]]:
        convs = [[{"role": "user", "content": "Is 2 + 2 = 4? Answer yes or no."}],
                 [{"role": "user", "content": "Is 2 + 2 = 4? Answer yes or no."}],
                 [{"role": "user", "content": "Name a prime number larger than 100."}]]
        got = [await embed(client, c) for c in convs]
        await client.aclose()
        assert all(e.generation.usage.prompt_tokens > 5 for e in got)
        return [e.vector for e in got]

    a, b, c = (np.asarray(v) for v in asyncio.run(three()))
    config = json.loads((Path(pooling.model_path) / "config.json").read_text())
    assert a.shape == (config["hidden_size"],)
    assert abs(np.linalg.norm(a) - 1) < 1e-3
    assert np.allclose(a, b, atol=1e-3) and not np.allclose(a, c, atol=1e-2)


def test_a_bank_is_embedded_and_its_vectors_become_features(pooling: ServerInfo,
                                                             tmp_path: Path) -> None:
    data = tmp_path / "p.jsonl"
    data.write_text("".join(json.dumps({"problem": q, "answer": a, "unique_id": f"p/{i}"})
                            + "\n" for i, (q, a) in enumerate([("What is 2 + 3?", "5"),
                                                               ("What is 7 x 6?", "42")])))
    path = tmp_path / "bank.jsonl"
    w = BankWriter(path, new_header(model=pooling.model, dataset=str(data), config={"k": 2}))
    for i, answers in enumerate([("5", "6"), ("42", "48")]):
        w.append({"uid": f"p/{i}", "unit": "samples", "index": i, "samples": [
            {"text": f"The answer is \\boxed{{{a}}}.", "answer": a, "correct": j == 0}
            for j, a in enumerate(answers)]})
    bank = read_bank(path)
    store = TraceStore(make_engine(f"sqlite:///{tmp_path}/t.db"))
    out = tmp_path / "bank.embeddings.jsonl"
    s = embed_bank(bank, out, LLMClient(pooling.url, pooling.model), model=pooling.model,
                   store=store)
    assert (s.problems, s.embedded, s.kept) == (2, 2, 0) and s.prompt_tokens > 0
    again = embed_bank(bank, out, LLMClient(pooling.url, pooling.model), model=pooling.model,
                       store=store)
    assert (again.embedded, again.kept, again.prompt_tokens) == (0, 2, 0)
    assert attach_embeddings(bank, read_bank(out)) == []
    sample = bank.unit("p/0", "samples")["samples"][0]
    dim = len(sample["embedding"])
    features = sample_features(sample)
    assert all(n in features for n in feature_names("embedding", dim))
    other = bank.unit("p/0", "samples")["samples"][1]["embedding"]
    assert not np.allclose(sample["embedding"], other, atol=1e-3)  # "5" and "6" differ
