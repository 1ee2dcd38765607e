"""`worldplan rerun RUN --from-cache`: re-execute a run from its stored LLM responses.

A run stores its command's config in `Run.config` and its kind in `Run.kind` ("math",
"web", ...). A *rerun function* per kind re-invokes the same core function with that config
and with the client it is given; the registry maps kind -> "module:function" and imports
lazily, so runners plug in without this module importing them:

    def rerun(ctx: RerunContext) -> int:  # returns the new run's id
        ...run the command's core function with ctx.run["config"], ctx.client, ctx.store,
        recording its calls with ctx.store.recording(new_run_id, ctx.client)...

`rerun_from_cache` builds the client (an `LLMClient` whose transport is the run's
`traces.cache.CachedTransport`: no model server, no retries), calls the rerun function into
a new run, then compares the two runs' episodes, steps (actions and controller decisions),
search nodes and LLM completions, and says whether they are identical and where not.
Wall-clock fields (decision keys ending in `_s` or naming a time) are not compared.

Not handled: runs whose kind has no rerun function (a clear error names the kinds known).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from worldplan.traces import query
from worldplan.traces.cache import CachedTransport, CallCache
from worldplan.traces.compare import compare_runs
from worldplan.traces.schema import LLMCall, Run
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient

# kind -> "module:function". The math runner's hook lives in agent.runs.rerun_math.
DEFAULT_RERUNNERS: dict[str, str] = {"math": "worldplan.agent.runs.rerun_math:rerun"}
NO_SERVER_URL = "http://trace-cache.invalid"  # never contacted: the transport answers


@dataclass
class RerunContext:
    run: dict[str, Any]  # the original run's row: kind, config, model, llm_urls, strategy...
    client: LLMClient  # answers from the cache
    store: TraceStore  # write the new run here
    name: str  # a name for the new run


RerunFn = Callable[[RerunContext], int]


@dataclass(frozen=True)
class RerunResult:
    original_run: int
    new_run: int | None  # None when the rerun failed before it started a run
    identical: bool
    differences: list[str]
    calls_served: int
    calls_unused: int
    cache_misses: list[str] = field(default_factory=list)


class NoRerunner(LookupError):
    """The run's kind has no registered rerun function."""


def resolve(kind: str, registry: Mapping[str, str | RerunFn]) -> RerunFn:
    target = registry.get(kind)
    if target is None:
        raise NoRerunner(f"no rerun function for runs of kind {kind!r}; known kinds: "
                         f"{sorted(registry) or 'none'}")
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise NoRerunner(f"the rerun function for kind {kind!r} ({target}) is not available: "
                         f"{e}") from e
    return fn  # type: ignore[no-any-return]


def _n_params(engine: Engine, run_id: int) -> int | None:
    """The parameter count the original client used, recovered from a call's FLOPs."""
    t = LLMCall.__table__  # type: ignore[attr-defined]
    with engine.connect() as c:
        row = c.execute(select(t.c.flops, t.c.prompt_tokens, t.c.completion_tokens)
                        .where(t.c.run_id == run_id, t.c.flops.is_not(None),
                               t.c.prompt_tokens + t.c.completion_tokens > 0).limit(1)).first()
    if row is None:
        return None
    return round(row[0] / (2 * (row[1] + row[2])))


def cached_client(engine: Engine, run_id: int) -> tuple[LLMClient, CallCache]:
    """A client that answers from run `run_id`'s stored calls, and its cache."""
    cache = CallCache.from_run(engine, run_id)
    row = query.run_config(engine, run_id)
    client = LLMClient(list(row["llm_urls"] or []) or [NO_SERVER_URL],
                       cache.model or row["model"] or None, n_params=_n_params(engine, run_id),
                       retries=0, backoff_s=0.0, transport=CachedTransport(cache))
    return client, cache


_TIME_WORDS = ("time", "latency", "elapsed", "started", "ended")


def _strip_times(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _strip_times(v) for k, v in d.items()
                if not (k.endswith("_s") or any(w in k for w in _TIME_WORDS))}
    if isinstance(d, list):
        return [_strip_times(v) for v in d]
    return d


def diff_runs(engine: Engine, run_a: int, run_b: int, limit: int = 50) -> list[str]:
    """Where two runs of the same command differ: episodes, decisions, nodes, completions."""
    out: list[str] = []
    cmp = compare_runs(engine, run_a, run_b)
    for p in cmp.differing:
        out.append(f"task {p.task_id} seed {p.seed}: {p.differs} "
                   f"({p.answer_a!r} vs {p.answer_b!r})")
    for p in cmp.pairs:
        if p.episode_a is None or p.episode_b is None:
            continue
        da, db = query.episode_detail(engine, p.episode_a), query.episode_detail(engine,
                                                                                 p.episode_b)
        if (da.episode.reward, da.episode.status) != (db.episode.reward, db.episode.status):
            out.append(f"task {p.task_id}: reward/status {da.episode.reward}/"
                       f"{da.episode.status} vs {db.episode.reward}/{db.episode.status}")
        sa = [(s.index, s.action, s.reward, _strip_times(s.decision)) for s in da.steps]
        sb = [(s.index, s.action, s.reward, _strip_times(s.decision)) for s in db.steps]
        if sa != sb:
            out.append(f"task {p.task_id}: steps differ: {sa!r:.300} vs {sb!r:.300}")
        na = [(n.key, n.parent_key, n.kind, n.text, n.answer, n.score, n.chosen)
              for n in da.nodes]
        nb = [(n.key, n.parent_key, n.kind, n.text, n.answer, n.score, n.chosen)
              for n in db.nodes]
        if na != nb:
            out.append(f"task {p.task_id}: search nodes differ ({len(na)} vs {len(nb)})")
        ca = sorted((c.prompt, tuple(c.completions)) for c in da.calls)
        cb = sorted((c.prompt, tuple(c.completions)) for c in db.calls)
        if ca != cb:
            out.append(f"task {p.task_id}: LLM calls differ ({len(ca)} vs {len(cb)})")
        if len(out) >= limit:
            break
    return out[:limit]


def _last_run_id(engine: Engine) -> int:
    with engine.connect() as c:
        return int(c.execute(select(func.max(Run.__table__.c.id))).scalar() or 0)  # type: ignore[attr-defined]


def rerun_from_cache(engine: Engine, run_id: int,
                     registry: Mapping[str, str | RerunFn] | None = None) -> RerunResult:
    """Re-execute run `run_id` from its stored calls into a new run, and compare."""
    row = query.run_config(engine, run_id)
    fn = resolve(row["kind"], DEFAULT_RERUNNERS if registry is None else registry)
    client, cache = cached_client(engine, run_id)
    ctx = RerunContext(run=row, client=client, store=TraceStore(engine),
                       name=f"rerun of run {run_id}")
    before = _last_run_id(engine)
    try:
        new_run: int | None = fn(ctx)
        failure = ""
    except Exception as e:  # a cache miss, or the runner failing on a replayed response
        after = _last_run_id(engine)
        new_run = after if after > before else None
        failure = f"the rerun raised {type(e).__name__}: {e}"
    differences = [failure] if failure else []
    if new_run is not None:
        differences += diff_runs(engine, run_id, new_run)
    if cache.misses:
        differences = [f"cache miss: {m}" for m in cache.misses[:10]] + differences
    if cache.remaining():
        differences.append(f"{cache.remaining()} stored calls were never asked for")
    return RerunResult(run_id, new_run, not differences, differences,
                       len(cache.served), cache.remaining(), list(cache.misses))
