"""What `worldplan math` runs: the heavy objects built once, then `run_math`.

`run_math_command(options, display)` connects to the model server, builds the verifier that
`options.verifier` names (generative: the served model judges; prm: a vLLM-served PRM;
learned:FILE: the generative verifier rescored by a scorer fitted on banks, refused for
another model, with `embed_url`'s pooling server when the scorer reads embeddings; none),
opens the trace store and the grader, and calls agent.runs.math.run_math inside `display()`
(the CLI's progress bar). Before the bar is entered, in this order: the trace database opens
(a resumed run's settings are read from it), the problems load, the policy file that the
strategy uses loads, and the model servers answer (agent.runs.preflight): any of them
failing fails before anything is drawn or any run row is written. A verifier option that
does not fit is a `VerifierOptionError`; a run that cannot start or finish raises one of
`MATH_ERRORS` (no server, a server failure, a dataset that cannot load, a bad run to resume,
a bad policy file, an unusable trace database).
`run_math_batch_command` runs the slice under one average budget instead
(agent.runs.math_batch: probe, allocate by predicted difficulty, return what is unspent).
Not handled: option parsing and printing (agent.cli.math).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from worldplan.agent.control.policy import load_policy
from worldplan.agent.control.scorer import ScorerError, load_scorer
from worldplan.agent.runs.math import (
    MathRunConfig,
    MathRunSummary,
    Progress,
    load_config,
    run_math,
)
from worldplan.agent.runs.math_batch import BatchSummary, run_math_batch
from worldplan.agent.runs.preflight import check_servers, served_model
from worldplan.agent.strategies.learned_verifier import LearnedVerifier
from worldplan.envs.math.data import DatasetUnavailable, load_problems, parse_field_map
from worldplan.envs.math.grader import Grader
from worldplan.traces.db_errors import TraceDBError
from worldplan.traces.engine import make_engine
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.connect import NoServer, connect
from worldplan.worldmodel.llm.errors import LLMError
from worldplan.worldmodel.math.verifier import GenerativeVerifier, PRMVerifier, Verifier

MATH_ERRORS: tuple[type[Exception], ...] = (NoServer, LLMError, DatasetUnavailable, TraceDBError,
                                            KeyError, ValueError)  # PolicyError is a ValueError

# A progress display: entered once the run starts, it gives the per-problem callback.
ProgressDisplay = Callable[[], AbstractContextManager[Progress]]


class VerifierOptionError(Exception):
    """The verifier option names no verifier, `prm` comes without the PRM's URL, or a learned
    verifier's file is missing, broken or of another model."""


@dataclass(frozen=True)
class MathCommandOptions:
    """Every option of `worldplan math` (its defaults are the command's)."""

    config: MathRunConfig  # the dataset slice, the strategy and its budget
    verifier: str  # generative | prm | none
    prm_url: str  # the PRM's server (verifier "prm")
    llm_urls: tuple[str, ...]  # model server URLs (): the default server
    model: str | None  # served model name (None: ask the server)
    db: str | None  # trace database URL or path (None: $WORLDPLAN_DB)
    resume: int | None  # run id whose finished problems are skipped
    embed_url: str = ""  # a pooling server of the model (a learned verifier's embeddings)


def make_verifier(kind: str, client: LLMClient, prm_url: str,
                  embed_url: str = "") -> Verifier | None:
    if kind == "generative":
        return GenerativeVerifier(client)
    if kind.startswith("learned:"):  # a scorer file from `worldplan verifier fit`
        try:
            scorer = load_scorer(kind.removeprefix("learned:"))
            embedder = None  # a pooling server only for a scorer that reads embeddings
            if embed_url and scorer.needs_embedding:  # the same weights: the same n_params
                embedder = connect([embed_url], n_params=client.n_params)
                scorer.check_model(served_model(embedder))  # the pooling server's model
            return LearnedVerifier(GenerativeVerifier(client), scorer,
                                   model=served_model(client), embedder=embedder)
        except ScorerError as e:
            raise VerifierOptionError(str(e)) from e
    if kind == "prm":
        if not prm_url:
            raise VerifierOptionError("--verifier prm needs --prm-url")
        return PRMVerifier(LLMClient(prm_url))
    if kind == "none":
        return None
    raise VerifierOptionError(f"unknown verifier {kind!r}: generative, prm, learned:FILE "
                              "or none")


def run_math_command(options: MathCommandOptions, display: ProgressDisplay) -> MathRunSummary:
    """Solve the configured problems (or the rest of run `options.resume`)."""
    client = connect(options.llm_urls or None, model=options.model)
    verifier = make_verifier(options.verifier, client, options.prm_url, options.embed_url)
    store = TraceStore(make_engine(options.db))
    config = (options.config if options.resume is None
              else load_config(store, options.resume))
    problems = load_problems(config.dataset, fields=parse_field_map(config.fields),
                             offset=config.offset, limit=config.limit)
    if "policy" in config.params or config.strategy in ("compute-optimal", "graph"):
        load_policy(config.params.get("policy"))  # a bad policy file: PolicyError, here
    check_servers([client])
    with Grader() as grader, display() as progress:
        return run_math(options.config, client=client, verifier=verifier, store=store,
                        grader=grader, resume=options.resume, progress=progress,
                        problems=problems)


def run_math_batch_command(options: MathCommandOptions, *, average: float, cap: int,
                           agree: float | None) -> BatchSummary:
    """`--budget-mode batch`: the slice under one average budget (agent.runs.math_batch)."""
    client = connect(options.llm_urls or None, model=options.model)
    verifier = make_verifier(options.verifier, client, options.prm_url, options.embed_url)
    store = TraceStore(make_engine(options.db))
    policy = load_policy(options.config.params.get("policy"))
    check_servers([client])
    with Grader() as grader:
        return run_math_batch(options.config, policy=policy, average=average, cap=cap,
                              agree=agree, client=client, verifier=verifier, store=store,
                              grader=grader)
