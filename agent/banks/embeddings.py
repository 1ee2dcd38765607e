"""Embeddings of a bank's samples, kept beside the bank in a file of the same format.

A learned verifier (agent.control.scorer) can read, besides a sample's own statistics, an
embedding of (problem, solution) from the served model (worldmodel.llm.embedding: vLLM's
pooling runner on the same weights). What is embedded is `sample_messages`: the
conversation the generative verifier asks its final yes/no question in (the solver's
prompt, the solution, the question: worldmodel.math.prompts.embedding_messages), so the
vector is (L2-normalised) the final hidden state from which the verifier's P(yes) is read
when the sample was asked with the solver's own prompt.

The file is a bank (agent.banks.bank_file: header line, one unit per line, fsynced, corrupt
lines reported and kept): its header is the embedded bank's (so `check_same_build` applies)
plus "embeds" (the bank's file name) and "embedding" (prompt, pooling, dim, dtype); each
problem is one unit "embeddings" holding `vectors`, one per sample in the samples unit's
order, as base64 float16 (little-endian), and the prompt tokens embedded. Built by
agent.runs.bank_embed (`worldplan bank embed`); `attach_embeddings` puts each vector into
its sample's dict ("embedding"), where `sample_features` reads it.
Not handled: embeddings of revision attempts or search nodes (only the samples unit).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from worldplan.agent.banks.bank_file import Bank, BankError, check_same_build
from worldplan.agent.banks.units import SAMPLES
from worldplan.worldmodel.llm.client import Message
from worldplan.worldmodel.math.prompts import embedding_messages
from worldplan.worldmodel.math.verifier import split_steps

EMBEDDINGS = "embeddings"  # the unit name
PROMPT = "verifier_question(complete=True) after solver_messages, generation prompt added"
POOLING = "last token, L2-normalised (vLLM --runner pooling --convert embed)"


def sample_messages(problem: str, solution: str) -> list[Message]:
    """The conversation embedded for one sample (worldmodel.math.prompts.embedding_messages
    of its blank-line steps)."""
    return embedding_messages(problem, split_steps(solution))


def encode_vector(vector: Sequence[float]) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f2").tobytes()).decode("ascii")


def decode_vector(text: str) -> np.ndarray:
    """(dim,) float32 from `encode_vector`'s text (BankError if it is not one)."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
        v = np.frombuffer(raw, dtype="<f2").astype(np.float32)
    except (ValueError, UnicodeError) as e:
        raise BankError(f"not an encoded vector ({type(e).__name__}: {e})") from e
    if v.size == 0 or not np.isfinite(v).all():
        raise BankError("an encoded vector that is empty or not finite")
    return v


def embedding_header(bank: Bank, dim: int) -> dict[str, Any]:
    name = bank.path.name if bank.path is not None else ""
    return {**bank.header, "embeds": name,
            "embedding": {"prompt": PROMPT, "pooling": POOLING, "dim": dim, "dtype": "float16"}}


def attach_embeddings(bank: Bank, embeddings: Bank) -> list[str]:
    """Put each sample's vector into its dict ("embedding", a list of floats); returns the
    problems of `bank` that have none (a build not finished). BankError when the files do
    not belong together (model, dataset, build settings, sample counts, dimensions)."""
    where = str(embeddings.path)
    check_same_build(bank.header, embeddings.header, where=where)
    meta = embeddings.header.get("embedding")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("dim"), int):
        raise BankError(f"{where}: not an embeddings file (no embedding dim in its header)")
    missing = []
    for uid in bank.uids():
        samples = (bank.unit(uid, SAMPLES) or {}).get("samples", [])
        unit = embeddings.unit(uid, EMBEDDINGS)
        if unit is None:
            missing.append(uid)
            continue
        vectors = [decode_vector(t) for t in unit.get("vectors", [])]
        if len(vectors) != len(samples) or any(v.size != meta["dim"] for v in vectors):
            raise BankError(f"{where}: problem {uid} has {len(vectors)} vectors for "
                            f"{len(samples)} samples, or vectors not of dim {meta['dim']}")
        for s, v in zip(samples, vectors, strict=True):
            s["embedding"] = v.tolist()
    return missing


def attach_files(banks: Sequence[Bank], files: Sequence[Bank]) -> list[str]:
    """Attach each embeddings file to the bank it embeds (the file named in its header, in
    the same folder); returns what is missing, as lines to show. BankError for a file that
    embeds none of the banks."""
    by_path = {b.path.resolve(): b for b in banks if b.path is not None}
    notes = []
    for emb in files:
        named = str(emb.header.get("embeds"))
        bank = (by_path.get((emb.path.parent / named).resolve())
                if emb.path is not None else None)
        if bank is None:
            raise BankError(f"{emb.path} embeds {named!r} in its folder, which is not among "
                            f"the banks given ({', '.join(sorted(map(str, by_path)))})")
        missing = attach_embeddings(bank, emb)
        if missing:
            notes.append(f"{emb.path}: {len(missing)} problems of {bank.path} have no "
                         f"embeddings (their samples get the training means)")
        notes += [f"{emb.path}: {p}" for p in emb.problems_found]
    return notes


def embedding_dim(banks: Sequence[Bank]) -> int:
    """The dimension of the embeddings attached to the banks' samples (0: none)."""
    for bank in banks:
        for uid in bank.uids():
            for s in (bank.unit(uid, SAMPLES) or {}).get("samples", []):
                if s.get("embedding"):
                    return len(s["embedding"])
    return 0
