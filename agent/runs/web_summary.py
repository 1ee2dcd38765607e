"""A web run read back from the trace database: per-episode outcomes and compute, the step
routes, prompt caching and the world model's accuracy (what benchmarks/web_agent.py reports).

- `episode_rows(store, run_id)`: one `EpisodeRow` per episode, keyed by (task, seed) so two
  runs on the same tasks and seeds pair up: success, reward, steps, and its compute in
  total tokens (uncached prompt + completion, summed over its LLM calls, the web budget's
  unit), completion tokens, prompt and cached prompt tokens, wall seconds of its steps.
- `run_summary(store, run_id)`: the run's routes per step, wall time per step, the cached
  fraction of prompt tokens (server-reported prefix-cache hits over all prompt tokens), and
  the world model's accuracy on the executed actions that were imagined (line precision,
  recall, F1 and exact match of the structured change; the share that could be applied),
  and how often the executed action overrode the step's proposal majority
  (`majority_overrides`).
Pure reads; no interval here (the benchmark bootstraps over episodes).
Not handled: runs of other kinds than web.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from worldplan.agent.web.domain import majority_action
from worldplan.traces.schema import Episode, LLMCall, Run, SearchNode, Step
from worldplan.traces.store import TraceStore


@dataclass(frozen=True)
class EpisodeRow:
    task: str
    seed: int
    status: str
    success: bool
    reward: float
    steps: int
    total_tokens: int  # uncached prompt + completion, over the episode's calls
    completion_tokens: int
    prompt_tokens: int
    cached_tokens: int
    wall_s: float  # summed over its steps


@dataclass
class RunSummary:
    episodes: list[EpisodeRow]
    routes: dict[str, int] = field(default_factory=dict)
    wall_s_per_step: float | None = None
    # the run's wall time over its steps: throughput with its parallel episodes in flight
    # (None while it runs; a resumed run's pause counts)
    run_s_per_step: float | None = None
    cached_fraction: float | None = None  # cached prompt tokens / prompt tokens
    world_model: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)  # see `majority_overrides`


def _mean(xs: list[float]) -> float | None:
    return statistics.fmean(xs) if xs else None


def _load(store: TraceStore, run_id: int
          ) -> tuple[Run | None, list[Episode], list[Step], list[LLMCall], list[SearchNode]]:
    with Session(store.engine) as s:
        run = s.get(Run, run_id)
        eps = list(s.exec(select(Episode).where(Episode.run_id == run_id)))
        ids = [e.id for e in eps]
        steps = list(s.exec(select(Step).where(Step.episode_id.in_(ids))))  # type: ignore
        calls = list(s.exec(select(LLMCall).where(LLMCall.episode_id.in_(ids))))  # type: ignore
        roots = list(s.exec(select(SearchNode).where(
            SearchNode.episode_id.in_(ids), SearchNode.kind == "proposal",  # type: ignore
            SearchNode.parent_key.is_(None)).order_by(SearchNode.id)))  # type: ignore
    return run, eps, steps, calls, roots


def majority_overrides(steps: list[Step], roots: list[SearchNode],
                       success: dict[int, bool]) -> dict[str, Any]:
    """How often the executed action was not the step's proposal majority (the domain's
    own `majority_action`: the most proposed readable action, counting merged replies;
    ties: the best ranked), over the
    steps whose proposals offered a choice (two or more distinct readable actions); and the
    success of the episodes with and without such an override. A search that always
    follows its proposals' majority can do no better than sampling them."""
    proposals: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for n in roots:
        proposals.setdefault((n.episode_id, n.step_index), []).append(
            {"answer": n.answer, "info": n.info or {}})
    choice = over = 0
    overridden: set[int] = set()
    for st in steps:
        cands = proposals.get((st.episode_id, st.index), [])
        if len({c["answer"] for c in cands if c["answer"]}) < 2:
            continue
        choice += 1
        if st.action != majority_action(cands):
            over += 1
            overridden.add(st.episode_id)
    def rate(eps: list[int]) -> float | None:
        return _mean([float(success[e]) for e in eps])
    return {"steps_with_choice": choice, "overridden": over,
            "episodes_overridden": len(overridden),
            "success_overridden": rate(sorted(overridden)),
            "success_rest": rate([e for e in success if e not in overridden])}


def run_summary(store: TraceStore, run_id: int) -> RunSummary:
    run, eps, steps, calls, roots = _load(store, run_id)
    by_ep: dict[int, list[LLMCall]] = {}
    for c in calls:
        by_ep.setdefault(int(c.episode_id or 0), []).append(c)
    steps_of: dict[int, list[Step]] = {}
    for st in steps:
        steps_of.setdefault(int(st.episode_id), []).append(st)
    rows = []
    for e in eps:
        cs = [c for c in by_ep.get(int(e.id or 0), []) if not c.error]
        prompt = sum(c.prompt_tokens for c in cs)
        cached = sum(c.cached_tokens or 0 for c in cs)
        completion = sum(c.completion_tokens for c in cs)
        mine = steps_of.get(int(e.id or 0), [])
        rows.append(EpisodeRow(e.task_id, int(e.seed or 0), e.status, bool(e.success),
                               float(e.reward or 0.0), len(mine), prompt - cached + completion,
                               completion, prompt, cached, sum(st.wall_time_s for st in mine)))
    rows.sort(key=lambda r: (r.task, r.seed))
    routes = Counter(str(st.decision.get("route")) for st in steps)
    prompt_all = sum(c.prompt_tokens for c in calls if not c.error)
    cached_all = sum(c.cached_tokens or 0 for c in calls if not c.error)
    span = (run.ended_at - run.started_at) if run is not None and run.ended_at else None
    return RunSummary(rows, dict(routes), _mean([st.wall_time_s for st in steps]),
                      span / len(steps) if span is not None and steps else None,
                      cached_all / prompt_all if prompt_all else None,
                      world_model_accuracy([st.info.get("world_model") for st in steps]),
                      majority_overrides(steps, roots, {int(e.id or 0): bool(e.success)
                                                        for e in eps}))


def world_model_accuracy(records: list[Any]) -> dict[str, Any]:
    """Means over the steps whose executed action was imagined (Step.info["world_model"],
    worldmodel.web.world_model.Accuracy as a dict)."""
    wm = [w for w in records if isinstance(w, dict)]
    def m(key: str) -> float | None:
        return _mean([float(w.get(key, 0.0)) for w in wm])
    return {"n": len(wm), "precision": m("precision"), "recall": m("recall"),
            "line_f1": m("line_f1"), "exact": m("exact"), "applied": m("applied"),
            "word_f1": m("f1"), "change_agrees": m("change_agrees")}
