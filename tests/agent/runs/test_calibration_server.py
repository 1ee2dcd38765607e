"""End to end with the real served model: calibrate on 2 MATH train problems with tiny
budgets, fit a policy from that run, run compute-optimal with it; the traces are complete."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from tests.conftest import DATA_DIR, LLMServer
from worldplan.agent.control.fitting import fit_from_runs
from worldplan.agent.control.policy import load_policy
from worldplan.agent.runs.calibration import CalibrationConfig, calibrate
from worldplan.agent.runs.math import MathRunConfig, run_math
from worldplan.envs.math.grader import Grader
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import Episode, LLMCall, Run, SearchNode, Step
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.verifier import GenerativeVerifier

pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_calibrate_fit_and_run_compute_optimal(llm_server: LLMServer, tmp_path: Path,
                                               grader: Grader) -> None:
    train = DATA_DIR / "math" / "train.jsonl"
    if not train.exists():
        pytest.fail(f"MATH train split not found at {train}")
    client = LLMClient(llm_server.url, llm_server.model, n_params=llm_server.n_params)
    store = TraceStore(make_engine(f"sqlite:///{tmp_path}/traces.db"))
    config = CalibrationConfig(dataset=str(train), limit=2, budgets=[2, 8],
                               grid="best_of_n;revisions:per_chain=2", oracle_samples=2,
                               probe_n=2, max_tokens=24, step_max_tokens=16, concurrency=2)
    summary = calibrate(config, client=client, verifier=GenerativeVerifier(client),
                        store=store, grader=grader)
    assert summary.episodes == 2 * (1 + 2 * 2)
    policy = fit_from_runs(store.engine, [summary.run_id], note="server test")
    path = policy.save(tmp_path / "policy.json")
    assert load_policy(path).lookup(None, 8) is not None
    assert policy.metadata["models"] == [llm_server.model]

    config_run = MathRunConfig(dataset="math500", limit=1, strategy="compute-optimal",
                               params={"policy": str(path)}, budget_generations=8,
                               max_tokens=24, step_max_tokens=16)
    result = run_math(config_run, client=client, verifier=GenerativeVerifier(client),
                      store=store, grader=grader)
    assert result.n == 1
    with Session(store.engine) as s:
        for run_id in (summary.run_id, result.run_id):
            run = s.get(Run, run_id)
            assert run is not None and run.status == "completed"
            eps = s.exec(select(Episode).where(Episode.run_id == run_id)).all()
            assert eps and all(e.status == "completed" for e in eps)
            for e in eps:
                calls = s.exec(select(LLMCall).where(LLMCall.episode_id == e.id)).all()
                # generation-equivalents as charged: the verifier is free (as in the paper)
                assert e.generations == sum(c.n for c in calls
                                            if not c.error and c.role != "verifier") > 0
                assert all(c.tags["equivalents"] == 0 for c in calls if c.role == "verifier")
        ep = s.exec(select(Episode).where(Episode.run_id == result.run_id)).one()
        assert ep.generations <= 8  # probe included
        step = s.exec(select(Step).where(Step.episode_id == ep.id)).one()
        decision = step.decision["params"]
        assert decision["decision"]["strategy"] in ("best_of_n", "revisions")
        assert decision["reason"]
        assert decision["probe"]["generations"] == 2  # 2 samples; judging them is free
        nodes = s.exec(select(SearchNode).where(SearchNode.episode_id == ep.id)).all()
        assert sum(n.kind == "probe" for n in nodes) == 2
        roles = {c.role for c in s.exec(select(LLMCall).where(LLMCall.episode_id == ep.id))}
        assert {"probe", "verifier", "proposer"} <= roles
