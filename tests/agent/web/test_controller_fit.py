"""Fitting the web controller from counterfactual records (agent.web.controller_fit), on
synthetic records whose best arm is known (tests.fakes.web_rows), and the web estimator on
a policy's cuts.

By hand, from the synthetic rule (acting succeeds when agreement >= 0.8, revising, 80
tokens, when >= 0.6, branching, 120 tokens, always): the easy two bins act (all succeed,
acting is cheapest), the middle bin revises (cheaper than branching), the two hard bins
branch; below 80 tokens only acting is affordable, and at 100 tokens branching is not (it
falls back to acting), so the hard bins act too.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from tests.fakes.web import FakeWebEnv, ScriptedWebLLM
from tests.fakes.web_rows import LEVELS, synthetic
from worldplan.agent.control.difficulty import bin_of
from worldplan.agent.control.policy import Policy, PolicyEntry
from worldplan.agent.control.predictor import model_from_dict
from worldplan.agent.runs.web_agent import run_agent_episode
from worldplan.agent.web.config import AgentClients, WebAgentConfig, make_models
from worldplan.agent.web.controller_cv import cross_validate_controller, task_splits
from worldplan.agent.web.controller_data import states_of
from worldplan.agent.web.controller_fit import WebFitSettings, cv_table, fit_web_policy
from worldplan.agent.web.difficulty import WebDifficulty, step_features
from worldplan.agent.web.router import load_web_policy, make_router
from worldplan.traces.schema import Step
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient

SETTINGS = WebFitSettings(allowances=(1, 100, 600), unit="completion")


def row(p: Policy, bin_: int | None, budget: int) -> str:
    e = p.lookup(bin_, budget)
    assert e is not None
    return e.strategy


def test_the_fitted_table_picks_the_known_best_arm_per_bin() -> None:
    p = fit_web_policy(synthetic(), SETTINGS, cv=False)
    model = model_from_dict(p.predictor)
    bins = {a: bin_of(model.predict({"agreement": a, "refs": 12.0, "step": 1.0,
                                     "last_error": 0.0}), p.cuts) for a in LEVELS}
    assert bins == {1.0: 1, 0.8: 2, 0.6: 3, 0.4: 4, 0.2: 5}  # one agreement level a bin
    assert [row(p, b, 600) for b in range(1, 6)] == ["act", "act", "revise", "branch",
                                                      "branch"]
    assert [row(p, b, 100) for b in range(1, 6)] == ["act", "act", "revise", "act", "act"]
    assert [row(p, b, 1) for b in range(1, 6)] == ["act"] * 5
    assert p.lookup(4, 600).params == {"depth": 1, "width": 3}  # type: ignore[union-attr]
    assert p.domain == "web" and p.metadata["states"] == 60
    assert p.metadata["tasks"] == [f"task{t}" for t in range(6)]
    assert p.metadata["models"] == ["scripted"]


def test_the_fitted_policy_is_a_web_policy_the_agent_loads(tmp_path: Path) -> None:
    p = fit_web_policy(synthetic(), SETTINGS, cv=False)
    loaded = load_web_policy(p.save(tmp_path / "web_fitted.json"))
    assert loaded.cuts == p.cuts and loaded.predictor == p.predictor
    assert loaded.budgets == [1, 100, 600]
    est = WebDifficulty.of(loaded)
    assert est.source == "learned"
    assert est.estimate({"agreement": 0.6, "refs": 12.0, "step": 1.0, "last_error": 0.0}
                        ).bin == 3


def test_leave_task_out_folds_never_share_a_task() -> None:
    tasks = [f"t{i % 5}" for i in range(23)]
    for folds in (0, 2, 3):
        splits = task_splits(tasks, folds)
        assert len(splits) == (5 if folds == 0 else folds)
        seen: list[str] = []
        for train, test in splits:
            assert not {tasks[i] for i in train} & {tasks[i] for i in test}
            assert sorted(train + test) == list(range(23))
            seen += sorted({tasks[i] for i in test})
        assert sorted(seen) == sorted(set(tasks))  # every task held out exactly once
    with pytest.raises(ValueError, match="2 tasks"):
        task_splits(["only"] * 4)


def test_cross_validation_holds_tasks_out_and_beats_always_acting() -> None:
    data = states_of(synthetic().arms.values())
    cv = cross_validate_controller(data.states, [1, 600], unit="completion", confidence=0.9)
    assert cv["folds"] == 6 and sorted(t for f in cv["fold_tasks"] for t in f) == [
        f"task{t}" for t in range(6)]
    big, small = cv["per_allowance"]["600"], cv["per_allowance"]["1"]
    assert big["always_act"]["point"] == pytest.approx(0.4)  # 2 of 5 levels
    assert big["controller"]["point"] == pytest.approx(1.0) == big["oracle"]["point"]
    assert big["best_single"]["point"] == pytest.approx(1.0)  # branching always works
    assert big["controller_minus_act"]["low"] > 0  # paired, 90%
    assert big["controller"]["confidence"] == 0.9
    assert small["controller"]["point"] == pytest.approx(0.4)  # only acting is affordable
    assert "leave-task-out CV: 60 states of 6 tasks" in cv_table(cv)


def test_incomplete_states_and_missing_act_are_reported() -> None:
    c = synthetic(tasks=2, per_task=5)
    del c.arms[("task0", 0, 0, "revise:rounds=1")]
    data = states_of(c.arms.values())
    assert data.dropped["incomplete"] == 1 and len(data.states) == 9
    no_act = [r for r in c.arms.values() if r.arm != "act"]
    with pytest.raises(ValueError, match="no 'act' arm"):
        states_of(no_act)


def cands(*answers: str) -> list[dict[str, object]]:
    return [{"answer": a, "score": None, "info": {}} for a in answers]


OBS = {"axtree": '- textbox "Name" [ref=e2]\n- button "Go" [ref=e3]', "last_action_error": ""}


def test_the_estimator_bins_on_the_policys_cuts_without_a_verifier_term() -> None:
    f = step_features(cands("click('e3')", "click('e3')", "click('e2')"), OBS, 2)
    assert f == {"agreement": pytest.approx(2 / 3), "refs": 2.0, "step": 2.0,
                 "last_error": 0.0}  # no verifier ran: no verifier term at all
    assert WebDifficulty().estimate(f).bin == 2  # equal-width cuts: 2/3 in (0.6, 0.8]
    entries = [PolicyEntry(None, 1, "act")]
    strict = WebDifficulty.of(Policy(entries, cuts=[0.7, 0.75, 0.8, 0.85], domain="web"))
    assert strict.estimate(f).bin == 5  # below every cut
    assert strict.estimate({**f, "agreement": 0.72}).bin == 4
    unanimous = step_features(cands("click('e3')") * 3, OBS, 0)
    none = step_features(cands("", ""), OBS, 0)
    assert WebDifficulty().estimate(unanimous).bin == 1  # reachable now
    assert WebDifficulty().estimate(none).bin == 5


def test_merged_candidates_count_once_per_reply_and_scores_when_judged() -> None:
    merged = [{"answer": "click('e3')", "score": 0.9, "info": {"count": 3, "entropy": 0.5}},
              {"answer": "click('e2')", "score": 0.1, "info": {"count": 1, "entropy": 1.5}}]
    f = step_features(merged, OBS, 0)
    assert f["agreement"] == pytest.approx(0.75)
    assert f["entropy"] == pytest.approx((3 * 0.5 + 1.5) / 4)
    assert f["verifier_spread"] == pytest.approx(0.8)
    assert json.loads(json.dumps(f)) == f


def test_the_policy_reaches_the_web_estimator_in_a_live_episode(tmp_path: Path,
                                                                store: TraceStore) -> None:
    """The bundled prior's cuts put unanimous proposals in bin 1 (act); a policy whose cuts
    sit at 1.0 puts them in bin 5, where its row says revise: the steps must follow it."""
    rows = [PolicyEntry(b, 1, "revise" if b == 5 else "act", {"rounds": 1} if b == 5 else {})
            for b in (None, 1, 2, 3, 4, 5)]
    path = Policy(rows, cuts=[1.0, 1.0, 1.0, 1.0], domain="web").save(tmp_path / "p.json")
    llm = ScriptedWebLLM()
    client = LLMClient("http://scripted", transport=llm.transport(), retries=0)
    router = make_router("compute-optimal", n=3, policy=str(path))
    config = WebAgentConfig(strategy="compute-optimal", budget_tokens=None, max_steps=4)
    run_id = store.start_run(kind="web", strategy="compute-optimal")
    out = asyncio.run(run_agent_episode(
        FakeWebEnv(), "fake-form", 0, make_models(AgentClients(client, client, client),
                                                  config, seed=0),
        router, store, run_id, config))
    with Session(store.engine) as s:
        steps = s.exec(select(Step).where(Step.episode_id == out.episode_id)).all()
    assert out.success and len(steps) == 3
    assert [st.decision["difficulty"] for st in steps] == [5, 5, 5]
    assert [st.decision["route"] for st in steps] == ["revise"] * 3
    est = steps[0].decision["difficulty_estimate"]
    assert est["p_solve"] == 1.0 and "on cuts [1.0, 1.0, 1.0, 1.0]" in est["reason"]
