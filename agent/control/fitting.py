"""Reading calibration runs back from the trace database, and fitting a policy from them.

`read_calibration(engine, run_ids)` collects, from completed episodes of runs of kind
"calibrate" (agent.runs.calibration): each problem's pass@1 and probe + text features (probe
episodes), and one `Outcome` per (problem, budget, configuration) (grid episodes; tokens =
the episode's completion tokens + the probe's). When several runs hold the same problem, the
later episode wins.

`fit_from_runs(engine, run_ids, ...)` fits the learned difficulty predictor (when there are
enough problems) and the policy, and writes what it was fitted on into the metadata.
Not handled: runs of other kinds (a clear error), mixing models across runs (a warning in
the metadata: `models` lists them all).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from worldplan.agent.control.difficulty import oracle_bins
from worldplan.agent.control.grid_fit import Outcome, fit_policy
from worldplan.agent.control.policy import Policy
from worldplan.agent.control.predictor import fit_predictor
from worldplan.traces.schema import Episode, Run

MIN_PREDICTOR_PROBLEMS = 4


@dataclass
class CalibrationData:
    pass_rates: dict[str, float] = field(default_factory=dict)
    features: dict[str, dict[str, float]] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)


def read_calibration(engine: Engine, run_ids: Sequence[int]) -> CalibrationData:
    data = CalibrationData()
    latest: dict[tuple[str, int, str], Outcome] = {}
    with Session(engine) as s:
        for run_id in run_ids:
            run = s.get(Run, run_id)
            if run is None:
                raise KeyError(f"no run {run_id} in {engine.url}")
            if run.kind != "calibrate":
                raise ValueError(f"run {run_id} is a {run.kind!r} run, not a calibration run "
                                 "(made by `worldplan calibrate`)")
            data.runs.append({"id": run_id, "model": run.model, "status": run.status,
                              "dataset": run.config.get("dataset"),
                              "offset": run.config.get("offset"),
                              "limit": run.config.get("limit"),
                              "budgets": run.config.get("budgets"),
                              "grid": run.config.get("grid"),
                              "oracle_samples": run.config.get("oracle_samples"),
                              "probe_n": run.config.get("probe_n"),
                              "max_tokens": run.config.get("max_tokens"),
                              "git_commit": run.git_commit})
            eps = s.exec(select(Episode).where(Episode.run_id == run_id,
                                               Episode.status == "completed")
                         .order_by(Episode.id))  # type: ignore[arg-type]
            for e in eps:
                info = e.info or {}
                if info.get("phase") == "probe":
                    data.pass_rates[e.task_id] = float(info["pass_at_1"])
                    data.features[e.task_id] = {k: float(v) for k, v in
                                                (info.get("features") or {}).items()}
                elif info.get("phase") == "grid":
                    o = Outcome(e.task_id, str(info["config"]), e.strategy,
                                dict(info.get("params") or {}), int(info["budget"]),
                                bool(e.success),
                                float(e.completion_tokens + int(info.get("probe_tokens", 0))))
                    latest[(o.uid, o.budget, o.config)] = o
    data.outcomes = list(latest.values())
    return data


def fit_from_runs(engine: Engine, run_ids: Sequence[int], *, folds: int = 2, seed: int = 0,
                  note: str = "", with_predictor: bool = True) -> Policy:
    data = read_calibration(engine, run_ids)
    if not data.outcomes:
        raise ValueError(f"runs {list(run_ids)} hold no completed calibration episodes")
    predictor = None
    _, cuts = oracle_bins(data.pass_rates)
    have = [u for u in data.pass_rates if data.features.get(u)]
    if with_predictor and len(have) >= MIN_PREDICTOR_PROBLEMS:
        keys = sorted(set.intersection(*(set(data.features[u]) for u in have)))
        model = fit_predictor([{k: data.features[u][k] for k in keys} for u in have],
                              [data.pass_rates[u] for u in have], cuts,
                              metadata={"runs": list(run_ids)})
        predictor = model.to_dict()
    models = sorted({r["model"] for r in data.runs})
    datasets = sorted({str(r["dataset"]) for r in data.runs})
    probe_n = {r["probe_n"] for r in data.runs}
    meta = {
        "fitted_on": f"calibration runs {list(run_ids)}: {len(data.pass_rates)} problems of "
                     f"{', '.join(datasets)} with model {', '.join(models) or '?'}",
        "runs": data.runs, "models": models, "problems": len(data.pass_rates),
        "outcomes": len(data.outcomes), "predictor_fitted": predictor is not None,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "note": note}
    probe = {"n": probe_n.pop() if len(probe_n) == 1 else 2}
    return fit_policy(data.outcomes, data.pass_rates, folds=folds, seed=seed, probe=probe,
                      predictor=predictor, metadata=meta)
