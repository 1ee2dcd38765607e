"""Resuming web agent runs left by a SIGKILL at the moments the fault harness (tests/faults)
found mishandled, each placed exactly here on the scripted form page (no browser):

- killed after its last episode, before the run was closed: `--resume` refused the run
  ("all its episodes completed: nothing to resume") and left it `running` for ever; now it
  closes it;
- killed after an episode's graph had finished (its last checkpoint says done), before the
  episode was closed: the resumed run replayed the whole episode from the first step; now it
  only closes it;
- killed after a step was recorded but before its checkpoint: the step is recorded once;
- killed in a step whose previous step was not checkpointed yet (checkpoints were written
  in the background): the step's calls were asked and stored twice; now a step starts only
  once the steps before it are checkpointed;
- resumed between two steps that ask the same question (a page that stopped changing): the
  later question took the earlier one's stored answer, and its call was lost.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from sqlmodel import Session, select

from tests.fakes.openai_server import Answer, OpenAIServer
from tests.fakes.web import PLAN, FakeWebEnv, ScriptedWebLLM, role_of
from tests.faults.web_child import TASKS, FakeEnvs
from worldplan.agent.graph.build import NODES_PER_STEP
from worldplan.agent.runs.web_agent import run_agent_episode, run_web_agent
from worldplan.agent.runs.web_resume import checkpoint_path, load_web_run
from worldplan.agent.web.config import AgentClients, WebAgentConfig, make_models
from worldplan.agent.web.router import make_router
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import Episode, LLMCall, Run, SearchNode, Step
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient


class CountingEnvs(FakeEnvs):
    """Fresh scripted pages; counts their real steps; the `fail_at`-th one raises (a crash
    mid-episode: the episode fails, its run completes)."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.steps, self.fail_at = 0, fail_at

    async def __aenter__(self) -> CountingEnvs:
        return self

    def episode(self, task: str):  # type: ignore[no-untyped-def]
        outer = super().episode(task)
        envs = self

        class Counted:
            async def __aenter__(self):  # type: ignore[no-untyped-def]
                env = await outer.__aenter__()
                step = env.step

                async def counted(text: str):  # type: ignore[no-untyped-def]
                    envs.steps += 1
                    if envs.steps == envs.fail_at:
                        raise RuntimeError("the page crashed")
                    return await step(text)

                env.step = counted  # type: ignore[method-assign]
                return env

            async def __aexit__(self, *exc: object) -> None:
                await outer.__aexit__(*exc)  # type: ignore[arg-type]

        return Counted()


def run(db: Path, resume: int | None = None, llm: ScriptedWebLLM | None = None,
        envs: CountingEnvs | None = None) -> tuple[OpenAIServer, CountingEnvs]:
    store = TraceStore(make_engine(str(db)))
    llm = llm or ScriptedWebLLM()
    envs = envs or CountingEnvs()
    with llm.server.serve() as url:
        client = LLMClient(url, model="scripted", retries=0)
        clients = AgentClients(client, client, client)
        if resume is None:
            config = WebAgentConfig(strategy="best-of-n", n=2, budget_tokens=20_000, max_steps=4)
            asyncio.run(run_web_agent(store, tasks=TASKS, seeds=[0], clients=clients,
                                      config=config, checkpoint_db=checkpoint_path(str(db)),
                                      envs=envs))
        else:
            spec = load_web_run(store, resume)
            asyncio.run(run_web_agent(store, tasks=spec.tasks, seeds=spec.seeds,
                                      clients=clients, config=spec.config,
                                      checkpoint_db=checkpoint_path(str(db)),
                                      resume=(resume, spec.plan), envs=envs))
    return llm.server, envs


def rows(db: Path) -> dict[str, object]:
    with Session(make_engine(str(db))) as s:
        run = s.exec(select(Run)).one()
        # a resumed episode counts one attempt more (its `retried` in the summary too)
        summary = [{k: v for k, v in row.items() if k != "retried"}
                   for row in run.config.get("summary", [])]
        return {"run": run.status, "summary": summary,
                "episodes": sorted((e.task_id, e.status, e.reward, e.completion_tokens,
                                    e.llm_calls) for e in s.exec(select(Episode))),
                "steps": sorted((st.episode_id, st.index, st.action)
                                for st in s.exec(select(Step))),
                "nodes": len(s.exec(select(SearchNode)).all()),
                "calls": sorted((c.episode_id, c.role, c.cache_key)
                                for c in s.exec(select(LLMCall).where(LLMCall.error == "")))}


def killed(db: Path, episode_task: str | None) -> None:
    """What a SIGKILL leaves: the run (and an episode) still `running`, no live process."""
    with sqlite3.connect(db) as con:
        con.execute("update run set status = 'running', ended_at = null, pid = 999999999")
        if episode_task is not None:
            con.execute("update episode set status = 'running', ended_at = null "
                        "where task_id = ?", (episode_task,))


def test_killed_after_its_last_episode_the_run_is_closed_on_resume(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    run(db)
    before = rows(db)
    killed(db, None)
    server, envs = run(db, resume=1)
    assert server.requests == [] and envs.steps == 0
    assert rows(db) == before  # completed, with its summary


def test_an_episode_whose_graph_had_finished_is_only_closed(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    run(db)
    before = rows(db)
    killed(db, TASKS[0])
    server, envs = run(db, resume=1)
    assert server.requests == []  # nothing asked again
    assert envs.steps == 0  # the episode was not played again
    assert rows(db) == before


def test_a_step_recorded_before_its_checkpoint_is_stored_once(tmp_path: Path) -> None:
    store = TraceStore(make_engine(str(tmp_path / "t.db")))
    ep = store.start_episode(store.start_run(kind="web"), task_id="t")
    for attempt in ("first process", "resumed process"):
        store.put_step(ep, 0, [{"key": "c0", "kind": "proposal", "text": attempt}],
                       action="click('e3')", info={"attempt": 1, "by": attempt})
    store.put_step(ep, 1, [{"key": "c1", "kind": "proposal"}], action="noop()")
    with Session(store.engine) as s:
        steps = s.exec(select(Step).order_by(Step.index)).all()  # type: ignore[arg-type]
        nodes = s.exec(select(SearchNode).order_by(SearchNode.step_index)).all()  # type: ignore[arg-type]
    assert [(st.index, st.info.get("by")) for st in steps] == [(0, "resumed process"),
                                                                (1, None)]
    assert [(n.step_index, n.text) for n in nodes] == [(0, "resumed process"), (1, "")]


def test_a_later_step_asking_what_an_earlier_step_asked_is_asked(tmp_path: Path) -> None:
    """Found by the browser fault test: on a page that stops changing, the world model and
    the verifier are asked the same question at two steps. An episode resumed from its
    checkpoint between them answered the later one with the earlier one's stored answer:
    the call was neither sent nor stored (a lost row), though the run went on."""

    def same(done: int, prompt: str, n: int) -> list[str]:
        return [PLAN[0]] * n  # fill the name again and again: the page stays the same

    run(tmp_path / "ref.db", llm=ScriptedWebLLM(propose=same))
    db = tmp_path / "t.db"
    run(db, llm=ScriptedWebLLM(propose=same), envs=CountingEnvs(fail_at=3))
    with Session(make_engine(str(db))) as s:
        assert [e.status for e in s.exec(select(Episode))].count("failed") == 1
    server, _ = run(db, resume=1, llm=ScriptedWebLLM(propose=same))
    assert server.requests  # the steps after the checkpoint were asked
    assert rows(db)["calls"] == rows(tmp_path / "ref.db")["calls"]
    assert rows(db)["episodes"] == rows(tmp_path / "ref.db")["episodes"]


class SlowSaver(AsyncSqliteSaver):
    """A checkpointer whose writes take a while (a busy disk)."""

    async def aput(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.2)
        return await super().aput(*args, **kwargs)


def test_a_step_asks_the_model_only_once_the_steps_before_it_are_checkpointed(
        tmp_path: Path) -> None:
    """Found by the browser fault test: checkpoints were written while the next node ran,
    so a process killed early in a step resumed from before the previous step's action, did
    it again on a fresh page (whose URL differs) and asked anew what it had asked and
    stored: the step's calls were stored twice. Now each node's checkpoint is written
    before the next node starts: when a step's proposals are asked for, every node before
    them (5 a step) is checkpointed."""
    ckpt = tmp_path / "ckpt.sqlite"
    saved: list[int] = []

    class Watching(ScriptedWebLLM):
        def answer(self, body: dict[str, Any]) -> Answer:
            if role_of(body) == "proposer":
                with sqlite3.connect(ckpt) as con:
                    saved.append(con.execute("select count(*) from checkpoints").fetchone()[0])
            return super().answer(body)

    store = TraceStore(make_engine(str(tmp_path / "t.db")))
    llm = Watching()
    client = LLMClient("http://scripted", model="scripted", transport=llm.transport())
    config = WebAgentConfig(strategy="reactive", budget_tokens=2000, max_steps=4)
    models = make_models(AgentClients(client, client, client), config, seed=0)

    async def go() -> str:
        async with SlowSaver.from_conn_string(str(ckpt)) as saver:
            out = await run_agent_episode(FakeWebEnv(), "form", 0, models,
                                          make_router("reactive"), store,
                                          store.start_run(kind="web"), config,
                                          checkpointer=saver)
        return out.status

    assert asyncio.run(go()) == "completed"
    assert len(saved) == 3 and saved[0] > 0
    assert saved == [saved[0] + NODES_PER_STEP * k for k in range(3)]

