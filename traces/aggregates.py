"""Aggregates over a run's episodes: grouped tables, difficulty bins, compute curves and
world-model accuracy.

Conventions read here (written by the runners):
- `Episode.info["level"]` (MATH level) and `Episode.info["subject"]`; `Episode.task_id`.
  Episodes without a level are the group "no level"; when some of a run's episodes have a
  difficulty and others not, those without form the bin "unknown".
- `Episode.difficulty`: a bin 1-5, or a continuous score (then split into 5 quantile bins).
- World-model accuracy: `Step.info["world_model"]` with "score" (0-1) or the web agent's
  "f1" and "change_agrees", and/or `SearchNode.info["wm_score"]` of imagined states.

Not handled: reading runs and episodes (traces.query), plotting (traces.plots).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from worldplan.traces.query import episodes
from worldplan.traces.rows import EpisodeRow, RunRow
from worldplan.traces.schema import Episode, SearchNode, Step

E, S, N = (Episode.__table__, Step.__table__,  # type: ignore[attr-defined]
           SearchNode.__table__)  # type: ignore[attr-defined]


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
        return _group(run_id, ((bins.get(e.id, "unknown"), e) for e in eps)) if bins else []
    attr = {"level": "level", "subject": "subject", "task": "task_id",
            "strategy": "strategy"}.get(by)
    if attr is None:
        raise ValueError(f"cannot group by {by!r}; use level, subject, task, difficulty "
                         "or strategy")
    missing = "no level" if by == "level" else "-"
    return _group(run_id, ((str(getattr(e, attr)) or missing, e) for e in eps))


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
