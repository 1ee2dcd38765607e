"""The trace writer: runs, episodes, steps, search nodes and LLM calls, one short transaction
each.

`TraceStore(engine)` (an engine from traces.engine.make_engine) writes in short
transactions, one per record, so that a killed process leaves whole rows only; runs and
episodes carry a status (`running` until they end), and `reconcile()` marks those of dead
processes `interrupted`. Safe for many concurrent episodes in one process: asyncio tasks
(the current episode travels in a context variable) and threads alike, and for several
processes on one database. What a killed process leaves is made whole by the next one: a
resumed run reopens an unfinished episode under its id (`episode_scope(resume=...)`), an
episode's last nodes and steps are written with its end (`finish_episode(nodes=, steps=)`),
and a step written again replaces the earlier write (`put_step`).

The LLM-call half of the writer (one row per call, the client observer, the cache key)
is traces.calls.CallWriter, which TraceStore extends.
Not handled here: opening the database and the schema-version check (traces.engine),
reading and analysing traces (traces.query, traces.aggregates), migrations (traces.migrate).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from worldplan.traces.batching import insert_rows
from worldplan.traces.calls import (  # noqa: F401 (re-exported: the store's public names)
    CallWriter,
    Observed,
    Replayed,
    call_cache_key,
    current_episode,
)
from worldplan.traces.provenance import git_commit, package_versions
from worldplan.traces.schema import Episode, LLMCall, Run, SearchNode, Step
from worldplan.worldmodel.llm.procs import pid_alive

# what ends a run or episode as "interrupted", not "failed": Ctrl-C, SIGTERM (the CLI turns
# it into SystemExit), and the cancellation asyncio.run sends its tasks when either arrives
STOPS: tuple[type[BaseException], ...] = (KeyboardInterrupt, SystemExit,
                                          asyncio.CancelledError)


class TraceStore(CallWriter):
    """Writes traces. Each method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---- runs ---------------------------------------------------------------------------

    def start_run(self, *, name: str = "", kind: str = "", env: str = "", strategy: str = "",
                  model: str = "", llm_urls: Iterable[str] = (),
                  config: dict[str, Any] | None = None) -> int:
        run = Run(name=name, kind=kind, env=env, strategy=strategy, model=model,
                  llm_urls=list(llm_urls), config=config or {}, git_commit=git_commit(),
                  versions=package_versions(), host=socket.gethostname(), pid=os.getpid())
        with Session(self.engine) as s:
            s.add(run)
            s.commit()
            assert run.id is not None
            return run.id

    def resume_run(self, run_id: int) -> Run:
        """Mark an interrupted or failed run running again, in this process."""
        with Session(self.engine) as s:
            run = s.get(Run, run_id)
            if run is None:
                raise KeyError(f"no run {run_id} in {self.engine.url}")
            if run.status == "running" and pid_alive(run.pid) and run.pid != os.getpid():
                raise RuntimeError(f"run {run_id} is still running (pid {run.pid})")
            run.status, run.pid, run.host = "running", os.getpid(), socket.gethostname()
            run.heartbeat_at, run.ended_at = time.time(), None
            s.add(run)
            s.commit()
            s.refresh(run)
            return run

    def finish_run(self, run_id: int, status: str = "completed", error: str = "") -> None:
        with Session(self.engine) as s:
            run = s.get(Run, run_id)
            if run is None:
                raise KeyError(f"no run {run_id}")
            run.status, run.error, run.ended_at = status, error, time.time()
            s.add(run)
            for ep in s.exec(select(Episode).where(Episode.run_id == run_id,
                                                   Episode.status == "running")):
                ep.status, ep.ended_at = "interrupted", time.time()
                s.add(ep)
            s.commit()

    @contextmanager
    def run_scope(self, *, resume: int | None = None, **fields: Any) -> Iterator[int]:
        """Start a run (or reopen run `resume`, after marking the runs of dead processes
        interrupted), yield its id, and end it completed, failed or interrupted."""
        if resume is None:
            run_id = self.start_run(**fields)
        else:
            self.reconcile()
            self.resume_run(resume)
            run_id = resume
        try:
            yield run_id
        except STOPS as e:
            self.finish_run(run_id, "interrupted", f"{type(e).__name__}")
            raise
        except BaseException as e:
            self.finish_run(run_id, "failed", f"{type(e).__name__}: {e}")
            raise
        else:
            self.finish_run(run_id, "completed")

    def reconcile(self) -> list[int]:
        """Mark `interrupted` the running runs (and their episodes) of dead local processes."""
        host = socket.gethostname()
        fixed = []
        with Session(self.engine) as s:
            for run in s.exec(select(Run).where(Run.status == "running")):
                if run.host == host and run.pid != os.getpid() and not pid_alive(run.pid):
                    fixed.append(run.id)
        for run_id in fixed:
            assert run_id is not None
            self.finish_run(run_id, "interrupted", "process ended without closing the run")
        return [r for r in fixed if r is not None]

    # ---- episodes, steps, nodes -----------------------------------------------------------

    def start_episode(self, run_id: int, *, env: str = "", task_id: str = "",
                      seed: int | None = None, reference: str = "", strategy: str = "",
                      info: dict[str, Any] | None = None) -> int:
        ep = Episode(run_id=run_id, env=env, task_id=task_id, seed=seed, reference=reference,
                     strategy=strategy, info=info or {})
        with Session(self.engine) as s:
            s.add(ep)
            s.commit()
            assert ep.id is not None
            return ep.id

    def reopen_episode(self, episode_id: int) -> None:
        """Mark an interrupted or failed episode running again (a resumed run continues it
        under its id: its stored calls stay its own)."""
        with Session(self.engine) as s:
            ep = s.get(Episode, episode_id)
            if ep is None:
                raise KeyError(f"no episode {episode_id}")
            ep.status, ep.error, ep.ended_at = "running", "", None
            s.add(ep)
            s.commit()

    @contextmanager
    def episode_scope(self, run_id: int, *, resume: int | None = None,
                      **fields: Any) -> Iterator[int]:
        """Start an episode (or reopen episode `resume`) and make it current for LLM-call
        records in this context.

        The episode is marked `failed` if the body raises; finishing it is the body's job
        (`finish_episode`), since only the body knows the reward.
        """
        if resume is None:
            ep_id = self.start_episode(run_id, **fields)
        else:
            self.reopen_episode(ep_id := resume)
        token = current_episode.set(ep_id)
        try:
            yield ep_id
        except STOPS + (GeneratorExit,):
            self.finish_episode(ep_id, status="interrupted")
            raise
        except BaseException as e:
            self.finish_episode(ep_id, status="failed", error=f"{type(e).__name__}: {e}")
            raise
        finally:
            current_episode.reset(token)

    def finish_episode(self, episode_id: int, *, status: str = "completed",
                       nodes: Iterable[dict[str, Any]] = (),
                       steps: Iterable[dict[str, Any]] = (), **fields: Any) -> Episode:
        """End an episode: set its fields, and total its LLM calls (tokens, FLOPs). Its last
        search nodes and steps, if given, are written in the same transaction: a killed
        process leaves an episode either finished with them or unfinished without them."""
        self.flush()  # its calls, queued by a batching writer, are stored first
        with Session(self.engine) as s:
            ep = s.get(Episode, episode_id)
            if ep is None:
                raise KeyError(f"no episode {episode_id}")
            insert_rows(s, SearchNode, [{"episode_id": episode_id, **n} for n in nodes])
            s.add_all([Step(episode_id=episode_id, **st) for st in steps])
            for k, v in fields.items():
                if not hasattr(ep, k):
                    raise AttributeError(f"Episode has no field {k!r}")
                setattr(ep, k, v)
            c = LLMCall.__table__.c  # type: ignore[attr-defined]
            rows = s.connection().execute(
                sa_select(c.prompt_tokens, c.completion_tokens, c.cached_tokens, c.flops, c.n,
                          c.tags).where(c.episode_id == episode_id, c.error == "")).all()
            ep.llm_calls = len(rows)
            ep.prompt_tokens = sum(int(r[0] or 0) for r in rows)
            ep.completion_tokens = sum(int(r[1] or 0) for r in rows)
            ep.flops = sum(float(r[3] or 0.0) for r in rows)
            # generation-equivalents as charged (the call's tags), else its samples
            ep.generations = sum(int((r[5] or {}).get("equivalents", r[4] or 0)) for r in rows)
            cached = sum(min(int(r[2] or 0), int(r[0] or 0)) for r in rows)
            ep.info = {**(ep.info or {}), "cached_tokens": cached,
                       "tokens": ep.prompt_tokens - cached + ep.completion_tokens}
            ep.status, ep.ended_at = status, time.time()
            if "wall_time_s" not in fields:
                ep.wall_time_s = ep.ended_at - ep.started_at
            s.add(ep)
            s.commit()
            s.refresh(ep)
            return ep

    def add_step(self, episode_id: int, **fields: Any) -> int:
        step = Step(episode_id=episode_id, **fields)
        with Session(self.engine) as s:
            s.add(step)
            s.commit()
            assert step.id is not None
            return step.id

    def put_step(self, episode_id: int, index: int, nodes: Iterable[dict[str, Any]],
                 **fields: Any) -> int:
        """Write step `index` and its search nodes in one transaction, replacing any rows
        an earlier process wrote for that step (a step replayed after a crash mid-step is
        stored once)."""
        st = Step.__table__  # type: ignore[attr-defined]
        nd = SearchNode.__table__  # type: ignore[attr-defined]
        step = Step(episode_id=episode_id, index=index, **fields)
        with Session(self.engine) as s:
            s.connection().execute(sa_delete(st).where(
                st.c.episode_id == episode_id, st.c.index == index))
            s.connection().execute(sa_delete(nd).where(
                nd.c.episode_id == episode_id, nd.c.step_index == index))
            s.add_all([SearchNode(episode_id=episode_id, step_index=index, **n)
                       for n in nodes])
            s.add(step)
            s.commit()
            assert step.id is not None
            return step.id

    def add_nodes(self, episode_id: int, nodes: Iterable[dict[str, Any]],
                  step_index: int = 0) -> int:
        """Store a search tree's flat records in one transaction. Returns how many."""
        rows = [SearchNode(episode_id=episode_id, step_index=step_index, **n) for n in nodes]
        with Session(self.engine) as s:
            s.add_all(rows)
            s.commit()
        return len(rows)
