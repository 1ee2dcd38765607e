"""Running a test-time-compute strategy over a slice of a math dataset, with traces.

`run_math(config, client=..., verifier=..., store=..., grader=...)` loads the problems,
solves each with the named strategy (agent.strategies) under its own `Budget`, grades the
answer in the `worldplan/Math-v0` environment, and stores, per problem, one episode, its
single step (the decision: strategy, parameters, counts, budget), every search node and
every LLM call (the client's observer records calls under the current episode). It returns
a `MathRunSummary` read back from the trace database: accuracy, tokens, FLOPs, wall time,
accuracy per level.

Resumable: `resume=RUN_ID` reloads that run's config and skips the problems it already
finished; a problem that was running when the process died (or failed) is solved again
under its old episode, and the LLM calls it had stored are answered from the trace
(traces.resume: same requests, same answers, nothing asked or stored twice), so the
resumed run ends as an uninterrupted one would. An episode's step and nodes are written
with its end in one transaction. A server failure ends the run as failed, and Ctrl-C as
interrupted; either way the finished problems are kept.
Not handled: several strategies in one run, multi-step environments.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlmodel import Session, select

from worldplan.agent.math.solvers import get_solver
from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.records import StrategyResult
from worldplan.envs.math.data import MathProblem, load_problems, parse_field_map
from worldplan.envs.math.env import MathEnv
from worldplan.envs.math.equivalence import grader_equal
from worldplan.envs.math.grader import Grader
from worldplan.traces.resume import StoredAnswers, replaying
from worldplan.traces.schema import Episode, Run
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.verifier import Verifier

ENV_ID = "worldplan/Math-v0"


@dataclass(frozen=True)
class MathRunConfig:
    dataset: str = "math500"
    fields: str | None = None  # a field-map preset or spec (envs.math.data.parse_field_map)
    offset: int = 0
    limit: int | None = None
    strategy: str = "best_of_n"
    params: dict[str, Any] = field(default_factory=dict)  # the strategy's own parameters
    budget_generations: int | None = 16  # generation-equivalents per problem
    budget_tokens: int | None = None  # uncached prompt + completion tokens per problem
    budget_flops: float | None = None  # FLOPs per problem (2 x parameters x tokens)
    verifier_charged: bool = False  # False: judgements are free, as in Snell et al.
    seed: int = 0
    max_tokens: int = 512  # per full solution (tokens)
    step_max_tokens: int = 160  # per step in beam / lookahead search (tokens)
    temperature: float = 0.8
    aggregation: str = "last"
    concurrency: int = 1  # problems solved at once


@dataclass(frozen=True)
class ProblemOutcome:
    uid: str
    level: int | None
    correct: bool
    answer: str
    reference: str
    completion_tokens: int
    generations: int
    wall_time_s: float
    skipped: bool = False  # finished in an earlier process of this run


@dataclass
class LevelStats:
    n: int = 0
    correct: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


@dataclass
class MathRunSummary:
    run_id: int
    strategy: str
    n: int
    correct: int
    prompt_tokens: int
    completion_tokens: int
    generations: int
    verifier_generations: int
    flops: float
    wall_time_s: float  # summed over problems (seconds)
    per_level: dict[str, LevelStats]
    cached_tokens: int = 0

    @property
    def tokens(self) -> int:
        """The token unit: uncached prompt + completion tokens."""
        return self.prompt_tokens - self.cached_tokens + self.completion_tokens

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


Progress = Callable[[ProblemOutcome, int, int], None]  # (outcome, done, total)


def run_math(config: MathRunConfig, *, client: LLMClient, verifier: Verifier | None,
             store: TraceStore, grader: Grader, resume: int | None = None,
             progress: Progress | None = None,
             problems: list[MathProblem] | None = None) -> MathRunSummary:
    """Solve the configured problems (or the rest of run `resume`); returns the summary.
    `problems`: the config's problems when the caller loaded them already (to check them)."""
    if resume is not None:
        config = load_config(store, resume)
    if problems is None:
        problems = load_problems(config.dataset, fields=parse_field_map(config.fields),
                                 offset=config.offset, limit=config.limit)
    get_solver(config.strategy)  # fail before starting a run on a bad name
    # a resumed run is reopened (a killed process left it and its episodes "running")
    with store.run_scope(resume=resume, name=f"math {config.strategy}", kind="math",
                         env=ENV_ID, strategy=config.strategy, model=client.model or "",
                         llm_urls=client.urls, config=asdict(config)) as run_id:
        observed = (client, *verifier_clients(client, verifier))
        continuing = unfinished_episodes(store, run_id)
        answers = StoredAnswers.load(store.engine, run_id, continuing.values())
        # every LLM call, under its episode; those stored before a kill are answered again
        # from the trace, not asked again nor stored twice
        # (written by a thread, in batches: each episode's end waits for its calls)
        with replaying([client], answers), store.recording(run_id, *observed,
                                                           replayed=answers), store.batching():
            asyncio.run(_run(config, problems, run_id, client, verifier, store, grader,
                             progress, continuing))
    return summarize_math_run(store, run_id)


def load_config(store: TraceStore, run_id: int) -> MathRunConfig:
    with Session(store.engine) as s:
        run = s.get(Run, run_id)
    if run is None:
        raise KeyError(f"no run {run_id} in {store.engine.url}")
    if run.kind != "math":
        raise ValueError(f"run {run_id} is a {run.kind!r} run, not a math run")
    return MathRunConfig(**run.config)


def finished_tasks(store: TraceStore, run_id: int) -> set[str]:
    with Session(store.engine) as s:
        rows = s.exec(select(Episode.task_id).where(Episode.run_id == run_id,
                                                    Episode.status == "completed"))
        return set(rows)


def unfinished_episodes(store: TraceStore, run_id: int) -> dict[str, int]:
    """task id -> the episode a resumed run continues: the latest one of each problem that
    has no completed episode (interrupted by a kill or Ctrl-C, or failed)."""
    with Session(store.engine) as s:
        eps = list(s.exec(select(Episode).where(Episode.run_id == run_id)
                          .order_by(Episode.id)))  # type: ignore[arg-type]
    done = {e.task_id for e in eps if e.status == "completed"}
    return {e.task_id: e.id for e in eps if e.task_id not in done and e.id is not None}


async def _run(config: MathRunConfig, problems: list[MathProblem], run_id: int,
               client: LLMClient, verifier: Verifier | None, store: TraceStore,
               grader: Grader, progress: Progress | None,
               continuing: dict[str, int]) -> None:
    done_before = finished_tasks(store, run_id)
    total, done = len(problems), 0
    sem = asyncio.Semaphore(max(1, config.concurrency))

    async def one(index: int, p: MathProblem) -> None:
        nonlocal done
        if p.uid in done_before:
            outcome = ProblemOutcome(p.uid, p.level, False, "", p.answer, 0, 0, 0.0, True)
        else:
            async with sem:
                outcome = await solve_problem(config, p, index, run_id, client, verifier,
                                              store, grader, continuing.get(p.uid))
        done += 1
        if progress is not None:
            progress(outcome, done, total)

    try:
        await asyncio.gather(*[one(config.offset + i, p) for i, p in enumerate(problems)])
    finally:
        for c in (client, *verifier_clients(client, verifier)):
            await c.aclose()


def verifier_clients(client: LLMClient, verifier: Verifier | None) -> tuple[LLMClient, ...]:
    """The verifier's own clients besides the solver's (a PRM's server, a learned verifier's
    pooling server): a run traces their calls and closes them with its own."""
    own: tuple[LLMClient, ...] = getattr(verifier, "clients", ())
    return tuple(c for c in own if c is not client)


async def solve_problem(config: MathRunConfig, p: MathProblem, index: int, run_id: int,
                        client: LLMClient, verifier: Verifier | None, store: TraceStore,
                        grader: Grader, episode_id: int | None = None) -> ProblemOutcome:
    """One problem: strategy, grading in the env, and its episode, step and nodes stored
    (in the episode's last transaction); `episode_id` continues an unfinished episode."""
    t0 = time.perf_counter()
    with store.episode_scope(run_id, resume=episode_id, env=ENV_ID, task_id=p.uid,
                             seed=config.seed, reference=p.answer, strategy=config.strategy,
                             info={"index": index, "level": p.level,
                                   "subject": p.subject}) as ep_id:
        budget = Budget(config.budget_generations, config.budget_tokens, config.budget_flops)
        ctx = SearchContext(client, verifier, budget, max_tokens=config.max_tokens,
                            verifier_charged=config.verifier_charged,
                            step_max_tokens=config.step_max_tokens,
                            temperature=config.temperature, seed=config.seed * 10_007 + index,
                            aggregation=config.aggregation, tags={"task": p.uid},
                            same_answer=grader_equal(grader))
        result = await get_solver(config.strategy)(p.problem, ctx, **config.params)
        env = MathEnv(problems=[p], grader=grader)
        env.reset(seed=config.seed, options={"index": 0})
        action = result.solution if result.answer else ""
        _, reward, terminated, truncated, info = await asyncio.to_thread(env.step, action)
        wall = time.perf_counter() - t0
        step = {"index": 0, "observation": p.problem, "action": action, "reward": reward,
                "terminated": terminated, "truncated": truncated,
                "decision": _decision(result), "info": info, "wall_time_s": wall}
        ep = store.finish_episode(
            ep_id, nodes=[n.record() for n in result.nodes], steps=[step], reward=reward,
            success=bool(info["correct"]), answer=info["answer"],
            difficulty=float(p.level) if p.level else None,
            difficulty_source="level" if p.level else "", wall_time_s=wall,
            info={"index": index, "level": p.level, "subject": p.subject,
                  "grade_status": info["grade_status"], **_decision(result)})
    return ProblemOutcome(p.uid, p.level, bool(info["correct"]), str(info["answer"]),
                          p.answer, ep.completion_tokens, ep.generations, wall)


def _decision(r: StrategyResult) -> dict[str, Any]:
    return {"strategy": r.strategy, "params": r.params, "answer": r.answer,
            "stop_reason": r.stop_reason, "solver": asdict(r.solver),
            "verifier": asdict(r.verifier), "budget": r.budget,
            "candidates": len(r.candidates), "nodes": len(r.nodes)}


def summarize_math_run(store: TraceStore, run_id: int) -> MathRunSummary:
    """Totals of a run's completed episodes (the latest one per problem)."""
    with Session(store.engine) as s:
        run = s.get(Run, run_id)
        eps = list(s.exec(select(Episode).where(Episode.run_id == run_id,
                                                Episode.status == "completed")
                          .order_by(Episode.id)))  # type: ignore[arg-type]
    latest = {e.task_id: e for e in eps}
    per_level: dict[str, LevelStats] = {}
    summary = MathRunSummary(run_id, run.strategy if run else "", 0, 0, 0, 0, 0, 0, 0.0, 0.0,
                         per_level)
    for e in latest.values():
        level = e.info.get("level")
        stats = per_level.setdefault(f"Level {level}" if level else "no level", LevelStats())
        stats.n += 1
        stats.correct += int(bool(e.success))
        summary.n += 1
        summary.correct += int(bool(e.success))
        summary.prompt_tokens += e.prompt_tokens
        summary.completion_tokens += e.completion_tokens
        summary.generations += e.generations
        summary.verifier_generations += int((e.info.get("verifier") or {}).get("generations", 0))
        summary.flops += e.flops
        summary.cached_tokens += int(e.info.get("cached_tokens", 0))
        summary.wall_time_s += e.wall_time_s
    summary.per_level = dict(sorted(per_level.items()))
    return summary
