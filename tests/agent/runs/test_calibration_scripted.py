"""Calibrate -> fit -> compute-optimal on a scripted model whose success rates per difficulty
and strategy are known in advance (tests/fakes/rated_model.py): the fitted policy picks
the known-best strategy in each bin, and compute-optimal respects the budget, probe included.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from tests.fakes.rated_model import KNOWN_BEST, PLAIN, ScriptedModel, write_problems
from worldplan.agent.cli.app import app
from worldplan.agent.control.difficulty import text_key
from worldplan.agent.control.fitting import fit_from_runs
from worldplan.agent.control.policy import Policy, load_policy
from worldplan.agent.math.solvers import get_solver
from worldplan.agent.runs.calibration import CalibrationConfig, calibrate
from worldplan.agent.runs.math import MathRunConfig, run_math
from worldplan.agent.strategies.base import SearchContext
from worldplan.envs.math.data import load_problems
from worldplan.envs.math.grader import Grader
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import Episode, Run, Step
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.verifier import GenerativeVerifier

BUDGETS = [12, 16]


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory, grader: Grader
               ) -> tuple[Path, int, Policy, Path]:
    tmp = tmp_path_factory.mktemp("scripted")
    data = write_problems(tmp / "problems.jsonl")
    model = ScriptedModel()
    client = LLMClient("http://scripted", model="scripted", transport=model.transport())
    store = TraceStore(make_engine(f"sqlite:///{tmp}/traces.db"))
    config = CalibrationConfig(dataset=str(data), limit=None, budgets=BUDGETS,
                               grid="best_of_n;beam:n_beams=2,width=1", oracle_samples=10,
                               probe_n=2, max_tokens=32, step_max_tokens=32,
                               verifier_charged=True)
    summary = calibrate(config, client=client, verifier=GenerativeVerifier(client),
                        store=store, grader=grader)
    assert summary.problems == 10 and summary.episodes == 10 * (1 + 2 * len(BUDGETS))
    policy = fit_from_runs(store.engine, [summary.run_id])
    return data, summary.run_id, policy, tmp


def test_pass_rates_are_the_scripted_ones(calibrated: tuple[Path, int, Policy, Path]) -> None:
    data, run_id, _, tmp = calibrated
    with Session(make_engine(f"sqlite:///{tmp}/traces.db")) as s:
        run = s.get(Run, run_id)
        probes = s.exec(select(Episode).where(Episode.run_id == run_id,
                                              Episode.strategy == "probe")).all()
    assert run is not None and run.kind == "calibrate" and run.status == "completed"
    for p in load_problems(str(data)):
        ep = next(e for e in probes if e.task_id == p.uid)
        assert ep.info["pass_at_1"] == pytest.approx(PLAIN[p.level or 0])
        assert ep.info["k"] == 10 and ep.info["probe_generations"] == 4


def test_fitted_policy_picks_the_known_best_strategy_in_each_bin(
        calibrated: tuple[Path, int, Policy, Path]) -> None:
    _, _, policy, _ = calibrated
    assert policy.metadata["problems_per_bin"] == {str(b): 2 for b in range(1, 6)}
    for budget in BUDGETS:
        chosen = {b: policy.lookup(b, budget).strategy for b in range(1, 6)}  # type: ignore[union-attr]
        assert chosen == KNOWN_BEST, f"budget {budget}"
    assert policy.predictor is not None  # 10 problems: the learned predictor was fitted


@pytest.mark.parametrize("budget", [16, 12, 5])
def test_compute_optimal_respects_the_budget_probe_included(
        calibrated: tuple[Path, int, Policy, Path], budget: int) -> None:
    data, _, policy, _ = calibrated
    problems = load_problems(str(data))
    oracle = {text_key(p.problem): PLAIN[p.level or 0] for p in problems}
    for p in problems:
        model = ScriptedModel()
        client = LLMClient("http://scripted", model="scripted", transport=model.transport())
        ctx = SearchContext(client, GenerativeVerifier(client), Budget(budget), max_tokens=32,
                            step_max_tokens=32, seed=1, verifier_charged=True)
        res = asyncio.run(get_solver("compute-optimal")(
            p.problem, ctx, policy=policy, difficulty="oracle", oracle=oracle))
        served = sum(u["n"] for u in model.served[int(p.uid.split("P")[1])])
        assert served == ctx.budget.spent_generations <= budget
        assert res.total.generations == served  # the result counts the probe too
        assert res.total.completion_tokens == sum(
            u["completion_tokens"] for u in model.served[int(p.uid.split("P")[1])])
        probe = res.params["probe"]
        d = res.params["decision"]
        assert res.params["reason"] == d["reason"] and d["reason"]
        if budget >= 8:  # the probe (4 generations) fits in half the budget
            assert probe["generations"] == 4 and probe["samples"] == 2
            assert d["strategy"] == KNOWN_BEST[p.level or 0]
        else:
            assert probe["generations"] == 0 and "no probe" in probe["note"]


def test_runner_stores_the_decision_and_every_call(
        calibrated: tuple[Path, int, Policy, Path], grader: Grader) -> None:
    data, _, policy, tmp = calibrated
    path = policy.save(tmp / "policy.json")
    model = ScriptedModel()
    client = LLMClient("http://scripted", model="scripted", transport=model.transport())
    store = TraceStore(make_engine(f"sqlite:///{tmp}/run.db"))
    config = MathRunConfig(dataset=str(data), limit=3, strategy="compute-optimal",
                           params={"policy": str(path)}, budget_generations=16,
                           max_tokens=32, step_max_tokens=32, verifier_charged=True)
    summary = run_math(config, client=client, verifier=GenerativeVerifier(client),
                       store=store, grader=grader)
    assert summary.n == 3
    with Session(store.engine) as s:
        eps = s.exec(select(Episode).where(Episode.run_id == summary.run_id)).all()
        steps = s.exec(select(Step)).all()
    assert all(e.status == "completed" and 0 < e.generations <= 16 for e in eps)
    assert sum(e.generations for e in eps) == sum(
        u["n"] for calls in model.served.values() for u in calls)
    for st in steps:
        params = st.decision["params"]
        assert params["decision"]["strategy"] in ("best_of_n", "beam")
        assert params["difficulty"]["source"] == "learned"
        assert params["probe"]["generations"] == 4


def test_cli_fit_policy_and_a_bad_policy_file(calibrated: tuple[Path, int, Policy, Path]
                                              ) -> None:
    _, run_id, _, tmp = calibrated
    out = tmp / "cli_policy.json"
    pred = tmp / "cli_pred.json"
    r = CliRunner().invoke(app, ["fit-policy", str(run_id), "-o", str(out), "--predictor-out",
                                 str(pred), "--db", f"sqlite:///{tmp}/traces.db"])
    assert r.exit_code == 0, r.output
    assert load_policy(out).lookup(5, 16).strategy == "beam"  # type: ignore[union-attr]
    assert pred.exists()
    r = CliRunner().invoke(app, ["fit-policy", "999", "-o", str(out), "--db",
                                 f"sqlite:///{tmp}/traces.db"])
    assert r.exit_code == 1 and "no run 999" in r.output
    bad = tmp / "bad.json"
    bad.write_text("{not json")
    r = CliRunner().invoke(app, ["math", "--strategy", "compute-optimal", "--policy", str(bad),
                                 "--dataset", str(tmp / "problems.jsonl"), "--limit", "1",
                                 "--llm-url", "http://127.0.0.1:9", "--db",
                                 f"sqlite:///{tmp}/bad.db"])
    text = " ".join(r.output.split())  # rich wraps long lines
    assert r.exit_code == 1
    assert "not a readable JSON file" in text and "bad.json" in text
