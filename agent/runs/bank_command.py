"""What `worldplan bank build` and `worldplan bank merge` run.

`run_bank_build(options, progress)` connects to the model server (preflight: it answers,
the trace database opens), opens the grader, and runs agent.runs.bank_build.build_bank with
a generative verifier on the same server; the bank records the served model's name.
`run_bank_merge(paths, out)` joins shards (agent.banks.bank_file.merge_banks).
`run_bank_embed(options, progress)` embeds a bank's samples with a pooling server of the
same model (agent.runs.bank_embed), recording every call in the trace database.
`run_bank_eval(options)` evaluates a bank offline (agent.banks.report), writing its JSON
and plots if asked.
Expected failures are the types in `BANK_ERRORS`.
Not handled: option parsing and printing (agent.cli.bank).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worldplan.agent.banks.bank_file import Bank, BankError, merge_banks, read_bank
from worldplan.agent.banks.batch_eval import BatchSettings
from worldplan.agent.banks.evaluate import EvalSettings
from worldplan.agent.banks.report import evaluate_bank, plot
from worldplan.agent.runs.bank_build import BankConfig, BuildSummary, Progress, build_bank
from worldplan.agent.runs.bank_embed import EmbedSummary, embed_bank
from worldplan.agent.runs.preflight import check_servers, served_model
from worldplan.envs.math.data import DatasetUnavailable
from worldplan.envs.math.grader import Grader
from worldplan.traces.db_errors import TraceDBError
from worldplan.traces.engine import make_engine
from worldplan.traces.store import TraceStore
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
    model = served_model(client)
    with Grader() as grader:
        return build_bank(options.config, client=client, verifier=GenerativeVerifier(client),
                          store=store, grader=grader, out=options.out, model=model,
                          progress=progress)


@dataclass(frozen=True)
class BankEmbedOptions:
    bank: str
    out: str  # the embeddings file (created, or continued when it exists)
    embed_urls: tuple[str, ...]  # the pooling server (`worldplan serve --embed`)
    db: str | None  # trace database URL or path (None: $WORLDPLAN_DB)
    concurrency: int = 2  # problems in flight (each with all its samples)


def run_bank_embed(options: BankEmbedOptions,
                   progress: Callable[[int, int], None] | None = None) -> EmbedSummary:
    bank = read_bank(options.bank)
    client = connect(options.embed_urls or None, max_concurrency=64, timeout_s=3600.0)
    store = TraceStore(make_engine(options.db))
    check_servers([client])
    return embed_bank(bank, options.out, client, model=served_model(client), store=store,
                      concurrency=options.concurrency, progress=progress)


def run_bank_merge(paths: list[str], out: str) -> Bank:
    return merge_banks([Path(p) for p in paths], out)


@dataclass(frozen=True)
class BankEvalOptions:
    bank: str
    train: str | None  # fit on this bank instead of cross-validating
    budgets: tuple[int, ...]
    folds: int
    probe_n: int
    seed: int
    confidence: float
    max_subsets: int
    json_out: str | None
    plot_out: str | None
    batch: bool = True  # the batch-budget and early-stopping table (cross-validated only)


def run_bank_eval(options: BankEvalOptions) -> dict[str, Any]:
    settings = EvalSettings(budgets=options.budgets, folds=options.folds,
                            seed=options.seed, probe_n=options.probe_n,
                            confidence=options.confidence, max_subsets=options.max_subsets)
    train = read_bank(options.train) if options.train else None
    result = evaluate_bank(read_bank(options.bank), settings, train,
                           batch=BatchSettings() if options.batch else None)
    if options.json_out:
        Path(options.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(options.json_out).write_text(json.dumps(result, indent=1, default=float) + "\n")
    if options.plot_out:
        plot(result, options.plot_out)
    return result
