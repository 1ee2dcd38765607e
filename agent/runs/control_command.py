"""What `worldplan calibrate` and `worldplan fit-policy` run.

`run_calibrate_command(options, progress)` connects to the model server, opens the trace
store and the grader, and runs agent.runs.calibration.calibrate with a generative verifier
(one run of kind "calibrate"; `options.resume` continues one that was killed or failed).
`run_fit_policy_command(options)` fits the policy from calibration runs
(agent.control.fitting.fit_from_runs) or from a bank (agent.banks.policy_fit), writes its
JSON and, if asked, the learned difficulty predictor on its own. Before calibrating, the
trace database opens and the model servers answer (agent.runs.preflight); the dataset
loads before any run row is written.
Expected failures are the types in `CALIBRATE_ERRORS` and `FIT_POLICY_ERRORS`.
Not handled: option parsing and printing (agent.cli.control).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from worldplan.agent.banks.bank_file import BankError, read_bank
from worldplan.agent.banks.evaluate import EvalSettings
from worldplan.agent.banks.policy_fit import fit_policy_from_bank
from worldplan.agent.control.fitting import fit_from_runs
from worldplan.agent.control.policy import Policy, PolicyError
from worldplan.agent.control.predictor import PredictorError, model_from_dict
from worldplan.agent.runs.calibration import (
    CalibrationConfig,
    CalibrationSummary,
    Progress,
    calibrate,
)
from worldplan.agent.runs.preflight import check_servers
from worldplan.envs.math.data import DatasetUnavailable
from worldplan.envs.math.grader import Grader
from worldplan.traces.db_errors import TraceDBError
from worldplan.traces.engine import make_engine
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.connect import NoServer, connect
from worldplan.worldmodel.llm.errors import LLMError
from worldplan.worldmodel.math.verifier import GenerativeVerifier

CALIBRATE_ERRORS: tuple[type[Exception], ...] = (
    NoServer, LLMError, DatasetUnavailable, TraceDBError, KeyError, ValueError)
FIT_POLICY_ERRORS: tuple[type[Exception], ...] = (  # OSError: the output cannot be written
    OSError, TraceDBError, KeyError, ValueError, PolicyError, PredictorError, BankError)


@dataclass(frozen=True)
class CalibrateOptions:
    """Every option of `worldplan calibrate` (its defaults are the command's)."""

    config: CalibrationConfig  # the dataset slice, budgets and strategy grid
    llm_urls: tuple[str, ...]  # model server URLs (): the default server
    model: str | None  # served model name (None: ask the server)
    db: str | None  # trace database URL or path (None: $WORLDPLAN_DB)
    resume: int | None = None  # the calibration run to continue, with its own settings


@dataclass(frozen=True)
class FitPolicyOptions:
    """Every option of `worldplan fit-policy` (its defaults are the command's)."""

    run_ids: tuple[int, ...]  # calibration runs
    output: str  # the policy JSON to write
    predictor_out: str  # "" or where to write the learned predictor alone
    folds: int  # cross-validation folds
    seed: int  # seed of the fold split
    with_predictor: bool  # fit the learned difficulty predictor
    note: str  # free text stored in the policy's metadata
    db: str | None  # trace database URL or path (None: $WORLDPLAN_DB)
    bank: str | None = None  # fit from this bank instead of calibration runs
    probe_n: int = 2  # with a bank: the probe's samples


@dataclass(frozen=True)
class FittedPolicy:
    policy: Policy
    path: Path  # where its JSON was written


def run_calibrate_command(options: CalibrateOptions, progress: Progress | None = None
                          ) -> CalibrationSummary:
    client = connect(options.llm_urls or None, model=options.model)
    store = TraceStore(make_engine(options.db))
    check_servers([client])
    with Grader() as grader:
        return calibrate(options.config, client=client, verifier=GenerativeVerifier(client),
                         store=store, grader=grader, progress=progress,
                         resume=options.resume)


def run_fit_policy_command(options: FitPolicyOptions) -> FittedPolicy:
    if options.bank is not None:
        settings = EvalSettings(folds=options.folds if options.folds != 2 else 5,
                                seed=options.seed, probe_n=options.probe_n)
        fitted = fit_policy_from_bank(read_bank(options.bank), settings, note=options.note)
        return FittedPolicy(fitted, fitted.save(options.output))
    engine = make_engine(options.db, create=False)
    policy = fit_from_runs(engine, list(options.run_ids), folds=options.folds,
                           seed=options.seed, note=options.note,
                           with_predictor=options.with_predictor)
    path = policy.save(options.output)
    if options.predictor_out:
        if policy.predictor is None:
            raise PredictorError("too few calibration problems to fit a predictor")
        model_from_dict(policy.predictor).save(options.predictor_out)
    return FittedPolicy(policy, path)
