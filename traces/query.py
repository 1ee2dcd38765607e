"""The read side of the trace database: runs, episodes and the tables the reports show.

Everything returns plain frozen dataclasses (no pandas; `rows_as_dicts` turns any list of
them into dicts for CSV/Parquet or a DataFrame). Aggregates are computed in SQL, so that a
database of a million LLM calls is summarised in seconds.

Conventions read here (written by the runners):
- `Episode.info["level"]` (MATH level) and `Episode.info["subject"]`; `Episode.task_id`.
- `Episode.difficulty`: a bin 1-5, or a continuous score (then split into 5 quantile bins).
- `Run.config["budget"]` (else "budget_generations", else "budget_tokens"): the budget the
  run was given (for compute curves).
- World-model accuracy: `Step.info["world_model"]` with "score" (0-1) or the web agent's
  "f1" and "change_agrees", and/or `SearchNode.info["wm_score"]` of imagined states.

An interrupted run (its process is dead but its status still says `running`) is reported
with status `interrupted`; its unfinished episodes' tokens come from their LLM calls.
Not handled: writing (see traces.store), migrations (see traces.migrate).
"""

from __future__ import annotations

import dataclasses
import socket
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.engine import Engine

from worldplan.traces.schema import Episode, LLMCall, Run, SearchNode, Step
from worldplan.worldmodel.llm.procs import pid_alive

E, L, R, S, N = (Episode.__table__, LLMCall.__table__, Run.__table__,  # type: ignore[attr-defined]
                 Step.__table__, SearchNode.__table__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RunRow:
    id: int
    name: str
    kind: str
    status: str  # as stored, or "interrupted" when the process died without closing it
    env: str
    strategy: str
    model: str
    budget: Any  # Run.config["budget"], if any
    episodes: int
    finished: int  # episodes with a known success
    successes: int
    accuracy: float | None  # successes / finished
    prompt_tokens: int
    completion_tokens: int
    flops: float
    llm_calls: int
    wall_time_s: float  # ended (or last heartbeat) minus started
    started_at: float


@dataclass(frozen=True)
class EpisodeRow:
    id: int
    run_id: int
    task_id: str
    seed: int | None
    status: str
    level: str
    subject: str
    difficulty: float | None
    difficulty_source: str
    strategy: str
    answer: str
    reference: str
    reward: float | None
    success: bool | None
    prompt_tokens: int
    completion_tokens: int
    flops: float
    llm_calls: int
    wall_time_s: float
    error: str

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class GroupRow:
    """Results of one group of episodes (a level, a task, a difficulty bin)."""

    run_id: int
    key: str
    episodes: int
    finished: int
    successes: int
    accuracy: float | None
    mean_tokens: float  # prompt + completion tokens per episode
    mean_flops: float
    mean_wall_time_s: float


@dataclass(frozen=True)
class CurvePoint:
    """One run as a point of accuracy vs compute."""

    run_id: int
    label: str  # the curve it belongs to: strategy (and model)
    budget: Any
    episodes: int
    accuracy: float | None
    mean_tokens: float
    mean_completion_tokens: float
    mean_flops: float


@dataclass(frozen=True)
class WorldModelAccuracy:
    run_id: int
    predictions: int  # scored predictions
    mean_score: float | None  # mean agreement 0-1
    accuracy: float | None  # share with score >= 0.5


@dataclass(frozen=True)
class StepRow:
    index: int
    observation: str
    action: str
    reward: float
    terminated: bool
    truncated: bool
    error: str
    decision: dict[str, Any]
    info: dict[str, Any]
    wall_time_s: float


@dataclass(frozen=True)
class NodeRow:
    step_index: int
    key: str
    parent_key: str | None
    kind: str
    text: str
    answer: str
    score: float | None
    scores: list[float]
    depth: int
    tokens: int
    chosen: bool
    info: dict[str, Any]


@dataclass(frozen=True)
class CallRow:
    id: int
    role: str
    endpoint: str
    model: str
    prompt: str
    completions: list[str]
    n: int
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    error: str
    tags: dict[str, Any]


@dataclass(frozen=True)
class EpisodeDetail:
    episode: EpisodeRow
    steps: list[StepRow]
    nodes: list[NodeRow]
    calls: list[CallRow]


def rows_as_dicts(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Any list of these dataclasses as a list of dicts (for CSV, Parquet, DataFrames)."""
    return [dataclasses.asdict(r) if dataclasses.is_dataclass(r) and not isinstance(r, type)
            else dict(r) for r in rows]


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


# ---- tables -------------------------------------------------------------------------------


def difficulty_bins(eps: Sequence[EpisodeRow], n_bins: int = 5) -> dict[int, str]:
    """Episode id -> bin label. Integer difficulties 1..n are bins; others quantile bins."""
    known = [e for e in eps if e.difficulty is not None]
    if not known:
        return {}
    values = [float(e.difficulty) for e in known if e.difficulty is not None]
    if all(v.is_integer() and 1 <= v <= n_bins for v in values):
        return {e.id: f"bin {int(e.difficulty or 0)}" for e in known}
    ranked = sorted(known, key=lambda e: float(e.difficulty or 0.0))
    return {e.id: f"bin {1 + i * n_bins // len(ranked)}" for i, e in enumerate(ranked)}


def _group(run_id: int, keyed: Iterable[tuple[str, EpisodeRow]]) -> list[GroupRow]:
    groups: dict[str, list[EpisodeRow]] = defaultdict(list)
    for key, e in keyed:
        groups[key].append(e)
    out = []
    for key in sorted(groups):
        g = groups[key]
        finished = [e for e in g if e.success is not None]
        succ = sum(1 for e in finished if e.success)
        out.append(GroupRow(
            run_id=run_id, key=key, episodes=len(g), finished=len(finished), successes=succ,
            accuracy=succ / len(finished) if finished else None,
            mean_tokens=sum(e.tokens for e in g) / len(g),
            mean_flops=sum(e.flops for e in g) / len(g),
            mean_wall_time_s=sum(e.wall_time_s for e in g) / len(g)))
    return out


def table_by(engine: Engine, run_id: int, by: str,
             eps: Sequence[EpisodeRow] | None = None) -> list[GroupRow]:
    """Results grouped by "level", "subject", "task", "difficulty" or "strategy"."""
    eps = episodes(engine, run_id) if eps is None else eps
    if by == "difficulty":
        bins = difficulty_bins(eps)
        return _group(run_id, ((bins[e.id], e) for e in eps if e.id in bins))
    attr = {"level": "level", "subject": "subject", "task": "task_id",
            "strategy": "strategy"}.get(by)
    if attr is None:
        raise ValueError(f"cannot group by {by!r}; use level, subject, task, difficulty "
                         "or strategy")
    return _group(run_id, ((str(getattr(e, attr)) or "-", e) for e in eps))


def compute_curve(summaries: Sequence[RunRow]) -> list[CurvePoint]:
    """Each run as a point (accuracy vs mean tokens and FLOPs per episode)."""
    out = []
    for s in summaries:
        n = max(s.episodes, 1)
        label = s.strategy or s.kind or f"run {s.id}"
        out.append(CurvePoint(
            run_id=s.id, label=f"{label} ({s.model})" if s.model else label, budget=s.budget,
            episodes=s.episodes, accuracy=s.accuracy,
            mean_tokens=(s.prompt_tokens + s.completion_tokens) / n,
            mean_completion_tokens=s.completion_tokens / n, mean_flops=s.flops / n))
    return sorted(out, key=lambda p: (p.label, p.mean_tokens))


def _wm_point(wm: Any) -> tuple[float, bool] | None:
    """(score, correct) of one stored world-model check, or None if it holds none."""
    if not isinstance(wm, dict):
        return None
    score = wm.get("score", wm.get("f1"))
    if not isinstance(score, int | float) or isinstance(score, bool):
        return None
    agrees = wm.get("change_agrees")
    return float(score), bool(agrees) if isinstance(agrees, bool) else score >= 0.5


def world_model_accuracy(engine: Engine, run_id: int) -> WorldModelAccuracy:
    """How well the world model's predictions matched what happened (where scored).

    Reads `Step.info["world_model"]` ({"score"} or the web agent's {"f1", "change_agrees"})
    and `SearchNode.info["wm_score"]` of imagined states. The score is the mean agreement
    (0-1); the accuracy is the share of predictions that got the change right
    (`change_agrees`), or else that scored at least 0.5.
    """
    points: list[tuple[float, bool]] = []
    with engine.connect() as c:
        for (info,) in c.execute(select(S.c.info).join(E, E.c.id == S.c.episode_id)
                                 .where(E.c.run_id == run_id)):
            p = _wm_point((info or {}).get("world_model"))
            if p is not None:
                points.append(p)
        for (info,) in c.execute(select(N.c.info).join(E, E.c.id == N.c.episode_id)
                                 .where(E.c.run_id == run_id, N.c.kind == "imagined_state")):
            p = _wm_point({"score": (info or {}).get("wm_score")})
            if p is not None:
                points.append(p)
    if not points:
        return WorldModelAccuracy(run_id, 0, None, None)
    return WorldModelAccuracy(run_id, len(points), sum(s for s, _ in points) / len(points),
                              sum(1 for _, ok in points if ok) / len(points))
