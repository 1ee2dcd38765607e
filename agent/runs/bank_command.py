"""What `worldplan bank build` and `worldplan bank merge` run.

`run_bank_build(options, progress)` connects to the model server (preflight: it answers,
the trace database opens), opens the grader, and runs agent.runs.bank_build.build_bank with
a generative verifier on the same server; the bank records the served model's name.
`run_bank_merge(paths, out)` joins shards (agent.banks.bank_file.merge_banks).
Expected failures are the types in `BANK_ERRORS`.
Not handled: option parsing and printing (agent.cli.bank).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from worldplan.agent.banks.bank_file import Bank, BankError, merge_banks
from worldplan.agent.runs.bank_build import BankConfig, BuildSummary, Progress, build_bank
from worldplan.agent.runs.preflight import check_servers
from worldplan.envs.math.data import DatasetUnavailable
from worldplan.envs.math.grader import Grader
from worldplan.traces.db_errors import TraceDBError
from worldplan.traces.engine import make_engine
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.connect import NoServer, connect
from worldplan.worldmodel.llm.errors import LLMError
from worldplan.worldmodel.math.verifier import GenerativeVerifier

BANK_ERRORS: tuple[type[Exception], ...] = (
    NoServer, LLMError, DatasetUnavailable, TraceDBError, BankError, KeyError, ValueError,
    OSError)


@dataclass(frozen=True)
class BankBuildOptions:
    config: BankConfig
    out: str  # the bank file (created, or continued when it exists)
    llm_urls: tuple[str, ...]  # model server URLs (): the default server
    model: str | None  # served model name (None: ask the server)
    db: str | None  # trace database URL or path (None: $WORLDPLAN_DB)
    concurrency: int = 64  # requests in flight to the server


def run_bank_build(options: BankBuildOptions, progress: Progress | None = None
                   ) -> BuildSummary:
    client = connect(options.llm_urls or None, model=options.model,
                     max_concurrency=options.concurrency, timeout_s=3600.0)
    store = TraceStore(make_engine(options.db))
    check_servers([client])
    model = asyncio.run(_served(client))
    with Grader() as grader:
        return build_bank(options.config, client=client, verifier=GenerativeVerifier(client),
                          store=store, grader=grader, out=options.out, model=model,
                          progress=progress)


async def _served(client: LLMClient) -> str:
    try:
        return await client.served_model()
    finally:
        await client.aclose()


def run_bank_merge(paths: list[str], out: str) -> Bank:
    return merge_banks([Path(p) for p in paths], out)
