"""Resuming an interrupted web agent run (agent.runs.web_resume): a real browser on a real
MiniWoB++ page, the scripted model for control flow. Completed episodes are kept as they
are, the interrupted one continues under its episode id, the rest run; the run ends
completed. `worldplan web --resume` refuses runs it cannot resume, with one clear line."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from tests.fakes.openai_server import Answer, Failure
from tests.fakes.web import ScriptedWebLLM
from worldplan.agent.cli.app import app
from worldplan.agent.runs.web_agent import run_web_agent
from worldplan.agent.runs.web_episodes import EpisodeOutcome
from worldplan.agent.runs.web_resume import checkpoint_path, load_web_run, plan_resume
from worldplan.agent.web.config import AgentClients, WebAgentConfig
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import Episode, LLMCall, Run, Step
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient


class Stop(RuntimeError):
    """The process stops after its first finished episode."""


class FailingLLM(ScriptedWebLLM):
    """The scripted model, whose server answers 500 to one request (the `fail_at`-th)."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at

    def answer(self, body: dict[str, Any]) -> Answer:
        if len(self.server.requests) == self.fail_at:
            return Failure("500", "scripted outage")
        return super().answer(body)


def clients_of(llm: ScriptedWebLLM) -> AgentClients:
    client = LLMClient("http://scripted", transport=llm.transport(), retries=0)
    return AgentClients(client, client, client)


def episodes(store: TraceStore, run_id: int) -> list[Episode]:
    with Session(store.engine) as s:
        return list(s.exec(select(Episode).where(Episode.run_id == run_id)
                           .order_by(Episode.id)))  # type: ignore[arg-type]


@pytest.mark.browser
def test_interrupted_web_run_resumes_keeping_completed_episodes(tmp_path: Path) -> None:
    db = str(tmp_path / "traces.db")
    store = TraceStore(make_engine(db))
    ckpt = checkpoint_path(db)
    assert ckpt == str(tmp_path / "traces.checkpoints.sqlite")
    config = WebAgentConfig(strategy="best-of-n", n=2, budget_tokens=20_000, max_steps=2)

    def stop(outcome: EpisodeOutcome) -> None:
        raise Stop(f"stopped after seed {outcome.seed}")

    # best-of-n with agreeing proposals: 3 requests a step (greedy and sampled proposals,
    # imagine; the scripted change names a textbox click-test's page lacks, so it cannot
    # be applied and nothing is judged); the 5th (step 2's sampled proposals) fails, so
    # seed 0 fails mid-episode, after one real step
    with pytest.raises(Stop):
        asyncio.run(run_web_agent(store, tasks=["click-test"], seeds=[0, 1, 2],
                                  clients=clients_of(FailingLLM(fail_at=5)), config=config,
                                  parallel=1, checkpoint_db=ckpt, on_episode=stop))
    with Session(store.engine) as s:
        run = s.exec(select(Run)).one()
    assert run.id is not None and run.status == "failed"
    before = episodes(store, run.id)
    assert [(e.seed, e.status) for e in before] == [(0, "failed")]  # 1 and 2 never started
    assert "scripted outage" in before[0].error or "500" in before[0].error
    with Session(store.engine) as s:
        assert [st.index for st in s.exec(select(Step).where(
            Step.episode_id == before[0].id))] == [0]

    spec = load_web_run(store, run.id)
    assert (spec.tasks, spec.seeds, spec.config) == (["click-test"], [0, 1, 2], config)
    plan = plan_resume(store, run.id)
    assert plan.finished == {} and plan.interrupted == {("click-test", 0): before[0].id}
    llm = ScriptedWebLLM()
    result = asyncio.run(run_web_agent(store, tasks=spec.tasks, seeds=spec.seeds,
                                       clients=clients_of(llm), config=spec.config,
                                       parallel=spec.parallel, checkpoint_db=ckpt,
                                       resume=(run.id, plan)))
    assert result.run_id == run.id and sum(r.episodes for r in result.summary) == 3
    after = episodes(store, run.id)
    assert sorted(e.seed for e in after) == [0, 1, 2]  # no duplicate rows
    assert all(e.status == "completed" for e in after)
    first = next(e for e in after if e.seed == 0)
    assert first.id == before[0].id and first.info["resumed"] is True
    with Session(store.engine) as s:
        assert s.get(Run, run.id).status == "completed"  # type: ignore[union-attr]
        steps = list(s.exec(select(Step).where(Step.episode_id == first.id)))
        calls = list(s.exec(select(LLMCall).where(LLMCall.episode_id == first.id,
                                                   LLMCall.error == "")))
    assert [st.index for st in steps] == [0, 1]  # step 0 kept, step 1 run on resume
    # step 0 was not asked again on resume: 3 answered calls a step (see above)
    assert len(calls) == 3 * len(steps)
    plan2 = plan_resume(store, run.id)
    assert set(plan2.finished) == {("click-test", s) for s in (0, 1, 2)}
    assert plan2.interrupted == {}


def test_resume_refuses_other_runs_with_one_clear_line(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    store = TraceStore(make_engine(db))
    math_run = store.start_run(kind="math", strategy="best_of_n")
    res = CliRunner().invoke(app, ["web", "--resume", str(math_run), "--db", db])
    assert res.exit_code == 1 and "not a web agent run" in res.output
    res = CliRunner().invoke(app, ["web", "--resume", "99", "--db", db])
    assert res.exit_code == 1 and "no run 99" in res.output
    web_run = store.start_run(kind="web", config={"agent": "graph", "tasks": ["click-test"]})
    store.finish_run(web_run, "completed")
    res = CliRunner().invoke(app, ["web", "--resume", str(web_run), "--db", db])
    assert res.exit_code == 1 and "nothing to resume" in res.output
