"""Resuming an interrupted `worldplan web --strategy ...` run.

A web agent run keeps what it needs to resume in the trace database: its settings
(`Run.config`: tasks, seeds, suite, parallel, and the `WebAgentConfig` fields) and, per
episode, its LangGraph thread id (`Episode.info["thread_id"]`), whose checkpoints are in the
run's checkpoint file (`checkpoint_path`, next to a SQLite trace database);
`checkpointed_calls` says how many LLM calls of each interrupted episode came before its
last checkpoint (the resumed run answers only the later ones from the trace).

`load_web_run(store, run_id)` gives the run's settings back (`WebRunSpec`) with the
plan of `plan_resume`, which sorts its (task, seed) pairs into those already completed
(kept: their outcome is rebuilt from the Episode row, nothing is rerun), those interrupted
or failed mid-episode (continued from their last checkpoint under the same episode id) and
those never started. A killed process left its run "running": `TraceStore.reconcile` marks
it interrupted first. A completed run whose episodes failed (a model server outage) resumes
the same way, and a run killed after its last episode, before it was closed, resumes to
be closed (its summary written, its status completed).
Not handled: resuming a run of the scripted agents (oracle/random: rerun them, they are
cheap), or a run whose checkpoint file was deleted (its interrupted episodes restart from
the first step, under their old episode ids).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from worldplan.agent.graph.build import saved_state
from worldplan.agent.runs.web_episodes import EpisodeOutcome
from worldplan.agent.web.config import WebAgentConfig
from worldplan.traces.schema import Episode, Run
from worldplan.traces.store import TraceStore


@dataclass
class ResumePlan:
    finished: dict[tuple[str, int], EpisodeOutcome]  # completed: kept as they are
    interrupted: dict[tuple[str, int], int]  # interrupted or failed -> the episode to continue
    # the pairs in neither dict have not started


@dataclass
class WebRunSpec:
    run_id: int
    tasks: list[str]
    seeds: list[int]
    suite: str
    parallel: int
    config: WebAgentConfig
    name: str
    plan: ResumePlan  # what is finished and what was interrupted, read when loaded


def thread_id_of(run_id: int, task: str, seed: int) -> str:
    """The LangGraph thread of an episode: its checkpoints' key."""
    return f"web-run{run_id}-{task}-seed{seed}"


async def checkpointed_calls(checkpoint_db: str | None, run_id: int,
                             episodes: dict[tuple[str, int], int]) -> dict[int, int]:
    """episode id -> the LLM calls answered before its last checkpoint (the graph state's
    budget counts them): a resumed episode does not make them again."""
    if not checkpoint_db or not episodes or not Path(checkpoint_db).exists():
        return {}
    out = {}
    async with AsyncSqliteSaver.from_conn_string(checkpoint_db) as saver:
        for (task, seed), episode_id in episodes.items():
            saved = await saved_state(saver, thread_id_of(run_id, task, seed))
            out[episode_id] = int(((saved or {}).get("spent") or {}).get("calls", 0))
    return out


def checkpoint_path(db_url: str) -> str:
    """The LangGraph checkpoint file of a trace database: beside it for a SQLite file,
    else runs/checkpoints.sqlite."""
    url = make_url(db_url if "://" in db_url else f"sqlite:///{db_url}")
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return str(Path(str(url.database)).with_suffix(".checkpoints.sqlite"))
    return "runs/checkpoints.sqlite"


def load_web_run(store: TraceStore, run_id: int) -> WebRunSpec:
    """The settings of web agent run `run_id` (a clear error for another kind of run)."""
    with Session(store.engine) as s:
        run = s.get(Run, run_id)
    if run is None:
        raise KeyError(f"no run {run_id} in {store.engine.url}")
    cfg: dict[str, Any] = dict(run.config or {})
    if run.kind != "web" or cfg.get("agent") != "graph":
        raise ValueError(f"run {run_id} is not a web agent run (kind {run.kind!r}, agent "
                         f"{cfg.get('agent')!r}): only `worldplan web --strategy` runs resume")
    known = {f.name for f in fields(WebAgentConfig)}
    config = WebAgentConfig(**{k: v for k, v in cfg.items() if k in known})
    spec = WebRunSpec(run_id, list(cfg.get("tasks", [])), [int(x) for x in cfg.get("seeds", [])],
                      str(cfg.get("suite", "")), int(cfg.get("parallel", 1)), config, run.name,
                      plan_resume(store, run_id))
    if run.status == "completed" and all(
            (t, seed) in spec.plan.finished for t in spec.tasks for seed in spec.seeds):
        raise ValueError(f"run {run_id} is {run.status} and all its episodes completed: "
                         "nothing to resume")
    return spec


def plan_resume(store: TraceStore, run_id: int) -> ResumePlan:
    """Which episodes of the run are finished, and which were interrupted (latest row of a
    (task, seed) wins)."""
    plan = ResumePlan({}, {})
    with Session(store.engine) as s:
        eps = list(s.exec(select(Episode).where(Episode.run_id == run_id)
                          .order_by(Episode.id)))  # type: ignore[arg-type]
    for e in eps:
        key = (e.task_id, int(e.seed or 0))
        plan.finished.pop(key, None)
        plan.interrupted.pop(key, None)
        assert e.id is not None
        if e.status == "completed":
            info = e.info or {}
            plan.finished[key] = EpisodeOutcome(
                e.task_id, key[1], e.id, reward=float(e.reward or 0.0),
                success=bool(e.success), steps=int(info.get("steps", 0)),
                attempts=e.attempts, status=e.status, error=e.error,
                wall_time_s=e.wall_time_s, retries=list(info.get("retries", [])))
        else:
            plan.interrupted[key] = e.id
    return plan
