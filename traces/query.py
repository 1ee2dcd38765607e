"""The read side of the trace database: runs and episodes (with their steps, search nodes
and LLM calls) as the rows of traces.rows.

Sums are computed in SQL, so that a database of a million LLM calls is summarised in seconds.
`Run.config["budget"]` (else "budget_generations", else "budget_tokens") is read as the
budget the run was given (for compute curves).

An interrupted run (its process is dead but its status still says `running`) is reported
with status `interrupted`; its unfinished episodes' tokens come from their LLM calls.
Not handled: tables, curves and world-model accuracy (traces.aggregates), writing
(traces.store), migrations (traces.migrate).
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.engine import Engine

from worldplan.traces.rows import CallRow, EpisodeDetail, EpisodeRow, NodeRow, RunRow, StepRow
from worldplan.traces.schema import Episode, LLMCall, Run, SearchNode, Step
from worldplan.worldmodel.llm.procs import pid_alive

E, L, R, S, N = (Episode.__table__, LLMCall.__table__, Run.__table__,  # type: ignore[attr-defined]
                 Step.__table__, SearchNode.__table__)  # type: ignore[attr-defined]


def effective_status(status: str, host: str, pid: int) -> str:
    """`running` runs whose local process is gone are shown as `interrupted`."""
    if status == "running" and host == socket.gethostname() and pid and not pid_alive(pid):
        return "interrupted"
    return status


# ---- runs ---------------------------------------------------------------------------------


def _budget(config: dict[str, Any]) -> Any:
    """The run's budget as its command stored it (generations, or tokens)."""
    for key in ("budget", "budget_generations", "budget_tokens"):
        if config.get(key) is not None:
            return config[key]
    return None


def _call_totals(c: Any, run_ids: Sequence[int] | None
                 ) -> dict[int, tuple[int, int, int, float]]:
    """Per run: (calls, prompt tokens, completion tokens, FLOPs) of its successful calls.

    Settled episodes carry their totals (TraceStore.finish_episode); only the calls of
    unsettled episodes (llm_calls == 0: running, killed) and of no episode are summed from
    the call rows, through the episode_id index: no scan of the whole call table.
    """
    sums = (func.coalesce(func.sum(L.c.prompt_tokens), 0),
            func.coalesce(func.sum(L.c.completion_tokens), 0),
            func.coalesce(func.sum(L.c.flops), 0.0))
    queries = [
        select(E.c.run_id, func.sum(E.c.llm_calls), func.sum(E.c.prompt_tokens),
               func.sum(E.c.completion_tokens), func.coalesce(func.sum(E.c.flops), 0.0))
        .where(E.c.llm_calls > 0).group_by(E.c.run_id),
        select(E.c.run_id, func.count(), *sums).select_from(E.join(L, L.c.episode_id == E.c.id))
        .where(E.c.llm_calls == 0, L.c.error == "").group_by(E.c.run_id),
        select(L.c.run_id, func.count(), *sums)
        .where(L.c.episode_id.is_(None), L.c.error == "").group_by(L.c.run_id),
    ]
    out: dict[int, tuple[int, int, int, float]] = {}
    for i, q in enumerate(queries):
        if run_ids is not None:
            q = q.where((L.c.run_id if i == 2 else E.c.run_id).in_(run_ids))
        for run_id, n, pt, ct, fl in c.execute(q):
            if run_id is None:
                continue
            a = out.get(run_id, (0, 0, 0, 0.0))
            out[run_id] = (a[0] + int(n or 0), a[1] + int(pt or 0), a[2] + int(ct or 0),
                           a[3] + float(fl or 0.0))
    return out


def runs(engine: Engine, run_ids: Sequence[int] | None = None) -> list[RunRow]:
    """A summary of each run (all of them, or those asked), oldest first."""
    ep_q = select(E.c.run_id, func.count(), func.count(E.c.success),
                  func.coalesce(func.sum(cast(E.c.success, Integer)), 0)).group_by(E.c.run_id)
    run_q = select(R).order_by(R.c.id)
    if run_ids is not None:
        ep_q = ep_q.where(E.c.run_id.in_(run_ids))
        run_q = run_q.where(R.c.id.in_(run_ids))
    with engine.connect() as c:
        eps = {r[0]: r[1:] for r in c.execute(ep_q)}
        calls = _call_totals(c, run_ids)
        out = []
        for r in c.execute(run_q).mappings():
            n, finished, succ = eps.get(r["id"], (0, 0, 0))
            ncalls, pt, ct, fl = calls.get(r["id"], (0, 0, 0, 0.0))
            end = r["ended_at"] or r["heartbeat_at"] or r["started_at"]
            config = r["config"] or {}
            out.append(RunRow(
                id=r["id"], name=r["name"], kind=r["kind"],
                status=effective_status(r["status"], r["host"], r["pid"]), env=r["env"],
                strategy=r["strategy"], model=r["model"], budget=_budget(config),
                episodes=int(n), finished=int(finished), successes=int(succ),
                accuracy=(int(succ) / int(finished)) if finished else None,
                prompt_tokens=int(pt), completion_tokens=int(ct), flops=float(fl),
                llm_calls=int(ncalls), wall_time_s=max(0.0, float(end - r["started_at"])),
                started_at=r["started_at"]))
    if run_ids is not None:
        missing = set(run_ids) - {r.id for r in out}
        if missing:
            raise KeyError(f"no run {sorted(missing)} in {engine.url}")
    return out


def run_config(engine: Engine, run_id: int) -> dict[str, Any]:
    """The stored run row as a dict (config, llm_urls, model, kind...)."""
    with engine.connect() as c:
        row = c.execute(select(R).where(R.c.id == run_id)).mappings().first()
    if row is None:
        raise KeyError(f"no run {run_id} in {engine.url}")
    return dict(row)


# ---- episodes -----------------------------------------------------------------------------


def _episode_row(r: Any, totals: dict[int, tuple[int, int, float, int]]) -> EpisodeRow:
    info = r["info"] or {}
    pt, ct, fl, nc = r["prompt_tokens"], r["completion_tokens"], r["flops"], r["llm_calls"]
    if r["id"] in totals:
        pt, ct, fl, nc = totals[r["id"]]
    level = info.get("level", "")
    return EpisodeRow(
        id=r["id"], run_id=r["run_id"], task_id=r["task_id"], seed=r["seed"],
        status=r["status"], level="" if level is None else str(level),
        subject=str(info.get("subject", "") or ""), difficulty=r["difficulty"],
        difficulty_source=r["difficulty_source"], strategy=r["strategy"], answer=r["answer"],
        reference=r["reference"], reward=r["reward"],
        success=None if r["success"] is None else bool(r["success"]),
        prompt_tokens=int(pt or 0), completion_tokens=int(ct or 0), flops=float(fl or 0.0),
        llm_calls=int(nc or 0), wall_time_s=float(r["wall_time_s"] or 0.0), error=r["error"])


def episodes(engine: Engine, run_id: int, episode_ids: Sequence[int] | None = None
             ) -> list[EpisodeRow]:
    """The episodes of a run in order. Unfinished ones get their tokens from their calls."""
    q = select(E).where(E.c.run_id == run_id).order_by(E.c.id)
    if episode_ids is not None:
        q = q.where(E.c.id.in_(episode_ids))
    with engine.connect() as c:
        rows = list(c.execute(q).mappings())
        open_ids = [r["id"] for r in rows if not r["llm_calls"]]  # unsettled: sum the calls
        totals: dict[int, tuple[int, int, float, int]] = {}
        for chunk in range(0, len(open_ids), 500):
            ids = open_ids[chunk:chunk + 500]
            for t in c.execute(
                    select(L.c.episode_id, func.coalesce(func.sum(L.c.prompt_tokens), 0),
                           func.coalesce(func.sum(L.c.completion_tokens), 0),
                           func.coalesce(func.sum(L.c.flops), 0.0), func.count())
                    .where(L.c.episode_id.in_(ids), L.c.error == "")
                    .group_by(L.c.episode_id)):
                totals[t[0]] = (t[1], t[2], t[3], t[4])
    return [_episode_row(r, totals) for r in rows]


def episode_detail(engine: Engine, episode_id: int, row: EpisodeRow | None = None,
                   max_calls: int | None = None) -> EpisodeDetail:
    """One episode with its steps, search nodes and (the first `max_calls`) LLM calls."""
    with engine.connect() as c:
        head = c.execute(select(E.c.run_id).where(E.c.id == episode_id)).first()
        if head is None:
            raise KeyError(f"no episode {episode_id} in {engine.url}")
        steps = [StepRow(
            index=s["index"], observation=s["observation"] or "", action=s["action"] or "",
            reward=float(s["reward"] or 0.0), terminated=bool(s["terminated"]),
            truncated=bool(s["truncated"]), error=s["error"] or "",
            decision=s["decision"] or {}, info=s["info"] or {},
            wall_time_s=float(s["wall_time_s"] or 0.0))
            for s in c.execute(select(S).where(S.c.episode_id == episode_id)
                               .order_by(S.c.index, S.c.id)).mappings()]
        nodes = [NodeRow(
            step_index=n["step_index"], key=n["key"], parent_key=n["parent_key"],
            kind=n["kind"], text=n["text"] or "", answer=n["answer"] or "", score=n["score"],
            scores=list(n["scores"] or []), depth=n["depth"], tokens=n["tokens"],
            chosen=bool(n["chosen"]), info=n["info"] or {})
            for n in c.execute(select(N).where(N.c.episode_id == episode_id)
                               .order_by(N.c.id)).mappings()]
        calls = [CallRow(
            id=k["id"], role=k["role"], endpoint=k["endpoint"], model=k["model"],
            prompt=k["prompt"] or "", completions=list(k["completions"] or []), n=k["n"],
            prompt_tokens=k["prompt_tokens"], completion_tokens=k["completion_tokens"],
            latency_s=float(k["latency_s"] or 0.0), error=k["error"] or "", tags=k["tags"] or {})
            for k in c.execute(select(L).where(L.c.episode_id == episode_id)
                               .order_by(L.c.started_at, L.c.id).limit(max_calls)).mappings()]
    ep = row if row is not None else episodes(engine, head[0], [episode_id])[0]
    return EpisodeDetail(ep, steps, nodes, calls)
