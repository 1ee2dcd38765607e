"""`worldplan bank embed`: embed every sample of a bank with the served model, resumably.

`embed_bank(bank, out, client, store=...)` asks a pooling server (`worldplan serve --embed`,
worldmodel.llm.embedding) for each sample's embedding of `agent.banks.embeddings.
sample_messages` (the problem from the bank's dataset, the sample's text) and appends one
"embeddings" unit per problem to `out` (a bank-format file, fsynced line by line): a killed
run leaves every finished problem, and running it again embeds only the others. The
server must serve the bank's model (`BankError` otherwise), and `out`, when it exists,
must be the embeddings of this bank. Every call is recorded in the trace store under a run
of kind "bank-embed". `concurrency` problems are embedded at once (all their samples in
flight together).
Not handled: banks whose dataset cannot be loaded here (the problem text is read from it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from worldplan.agent.banks.bank_file import (
    Bank,
    BankError,
    BankWriter,
    check_same_build,
    read_bank,
)
from worldplan.agent.banks.embeddings import (
    EMBEDDINGS,
    embedding_header,
    encode_vector,
    sample_messages,
)
from worldplan.agent.banks.units import SAMPLES
from worldplan.envs.math.data import load_problems, parse_field_map
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.embedding import embed

Progress = Callable[[int, int], None]  # (problems done, problems in all)


@dataclass(frozen=True)
class EmbedSummary:
    problems: int
    embedded: int  # problems embedded by this call
    kept: int  # problems already in the file
    prompt_tokens: int  # embedded by this call
    seconds: float
    run_id: int


def embed_bank(bank: Bank, out: str | Path, client: LLMClient, *, model: str,
               store: TraceStore, concurrency: int = 2,
               progress: Progress | None = None) -> EmbedSummary:
    start = time.monotonic()
    if model != bank.model:
        raise BankError(f"the server serves {model!r}, but the bank holds {bank.model!r} "
                        "samples: embed them with the model that wrote them")
    out = Path(out)
    have = read_bank(out) if out.exists() else None
    if have is not None:  # continue only the embeddings of this very bank
        if not have.header.get("embedding") or (
                bank.path is None or have.header.get("embeds") != bank.path.name):
            raise BankError(f"{out} is not an embeddings file of {bank.path} (it embeds "
                            f"{have.header.get('embeds')!r}): choose another --out")
        check_same_build(bank.header, have.header, where=str(out))
    texts = {p.uid: p.problem for p in load_problems(
        str(bank.header.get("dataset")), fields=parse_field_map(bank.config.get("fields")))}
    uids = [u for u in bank.uids() if bank.unit(u, SAMPLES) is not None]
    absent = [u for u in uids if u not in texts]
    if absent:
        raise BankError(f"{len(absent)} problems of the bank are not in its dataset "
                        f"{bank.header.get('dataset')!r} (first: {absent[0]})")
    todo = [u for u in uids if have is None or have.unit(u, EMBEDDINGS) is None]
    done, tokens = [len(uids) - len(todo)], [0]
    writer: list[BankWriter] = []  # created with the first vector (its dim is in the header)
    with store.run_scope(name=f"bank embed {bank.path}", kind="bank-embed", env="",
                         strategy="embed", model=model, llm_urls=client.urls,
                         config={"bank": str(bank.path), "out": str(out.resolve())}
                         ) as run_id, store.recording(run_id, client):

        async def problem(uid: str, gate: asyncio.Semaphore) -> None:
            async with gate:
                samples = (bank.unit(uid, SAMPLES) or {}).get("samples", [])
                got = await asyncio.gather(*[
                    embed(client, sample_messages(texts[uid], str(s.get("text", ""))),
                          tags={"uid": uid, "sample": i}) for i, s in enumerate(samples)])
            if not writer:
                writer.append(BankWriter(out, embedding_header(bank, len(got[0].vector))))
            used = sum(e.generation.usage.prompt_tokens for e in got)
            rec = bank.unit(uid, SAMPLES) or {}
            writer[0].append({"uid": uid, "unit": EMBEDDINGS, "index": rec.get("index", 0),
                              "vectors": [encode_vector(e.vector) for e in got],
                              "prompt_tokens": used})
            done[0] += 1
            tokens[0] += used
            if progress is not None:
                progress(done[0], len(uids))

        async def all_problems() -> None:
            gate = asyncio.Semaphore(max(1, concurrency))
            async with client:  # its connections belong to this event loop
                await asyncio.gather(*[problem(u, gate) for u in todo])

        asyncio.run(all_problems())
    return EmbedSummary(len(uids), len(todo), len(uids) - len(todo), tokens[0],
                        time.monotonic() - start, run_id)
