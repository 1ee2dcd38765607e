"""Calibration: run the strategy grid over a dataset slice at several budgets, as trace runs.

`calibrate(config, client=..., verifier=..., store=..., grader=...)` makes ONE run of kind
"calibrate" and, per problem:
- a probe episode (strategy "probe"): the decision-time probe (agent.strategies.probe, `probe_n`
  judged samples with logprobs) plus `oracle_samples - probe_n` more plain samples (role
  "oracle"); all K are graded, so pass@1 = correct / K (the oracle difficulty), and the
  probe's signals and the problem's text features are stored in Episode.info for the
  learned predictor;
- one episode per (budget, grid configuration), all of a problem's at once (the server
  batches them; each has its own budget and seed): exactly what compute-optimal would run if
  the controller chose that configuration (agent.strategies.compute_optimal.run_chosen): if
  the probe fits the budget (`probe_size`), the configuration gets the budget minus the
  probe's generations, and the probe's samples join the final selection. Episode.info holds
  the budget, the configuration, and the probe's share of tokens; Episode.difficulty is
  1 - pass@1 (source "oracle").
Resumable: `resume=RUN_ID` reloads that run's settings, keeps its completed episodes,
continues the unfinished ones under their ids with their stored calls answered from the
trace, and replays a completed probe from its stored calls where grid episodes still need
it (agent.runs.calibration_plan); the summary is read back from the whole run. An
episode's nodes and step are written with its end, in one transaction.
Reading the runs back and fitting are in agent.control.fitting.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from worldplan.agent.control.difficulty import text_features
from worldplan.agent.runs.calibration_grid import DEFAULT_GRID, GridCell, parse_grid
from worldplan.agent.runs.calibration_plan import (
    CalibrationState,
    calibration_results,
    grid_key,
    load_calibration_config,
    probe_key,
    read_calibration,
)
from worldplan.agent.runs.preflight import served_model
from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.compute_optimal import probe_size, run_chosen
from worldplan.agent.strategies.probe import Probe, run_probe
from worldplan.agent.strategies.records import Node
from worldplan.envs.math.answer import extract_answer
from worldplan.envs.math.data import MathProblem, load_problems, parse_field_map
from worldplan.envs.math.equivalence import grader_equal
from worldplan.envs.math.grader import Grader
from worldplan.traces.resume import StoredAnswers, replaying
from worldplan.traces.store import TraceStore, current_episode
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.prompts import solver_messages
from worldplan.worldmodel.math.verifier import Verifier

ENV_ID = "worldplan/Math-v0"


@dataclass(frozen=True)
class CalibrationConfig:
    dataset: str = "math-train"
    fields: str | None = None
    offset: int = 0
    limit: int | None = 20
    budgets: list[int] = field(default_factory=lambda: [1, 4, 16])  # generations per problem
    grid: str = DEFAULT_GRID
    oracle_samples: int = 4  # K samples per problem for pass@1 (probe samples included)
    probe_n: int = 2
    probe_max_fraction: float = 0.5
    seed: int = 0
    max_tokens: int = 512
    step_max_tokens: int = 160
    temperature: float = 0.8
    aggregation: str = "last"
    concurrency: int = 1
    verifier_charged: bool = False  # judgements free, as in Snell et al.


@dataclass
class CalibrationSummary:
    run_id: int
    problems: int
    episodes: int
    pass_rates: dict[str, float]
    accuracy: dict[str, dict[int, float]]  # config -> budget -> accuracy


Progress = Callable[[str, int, int], None]  # (problem uid, done, total)


@dataclass(frozen=True)
class ProblemRun:
    """What every episode of one problem shares: its run, its index and the heavy objects."""

    config: CalibrationConfig
    problem: MathProblem
    index: int  # in the dataset (offset included)
    run_id: int
    client: LLMClient
    verifier: Verifier | None
    store: TraceStore
    grader: Grader

    @property
    def seed(self) -> int:
        """The sampling seed of every episode of this problem."""
        return self.config.seed * 10_007 + self.index


@dataclass(frozen=True)
class ProbeOutcome:
    """The probe episode's result: the probe (its samples and signals) and pass@1."""

    probe: Probe
    pass_rate: float  # correct / K over the probe's and the oracle's samples


def calibrate(config: CalibrationConfig, *, client: LLMClient, verifier: Verifier | None,
              store: TraceStore, grader: Grader, progress: Progress | None = None,
              resume: int | None = None) -> CalibrationSummary:
    """Run the grid over the configured problems (or the rest of calibration run `resume`,
    with its own settings)."""
    if resume is not None:
        config = CalibrationConfig(**load_calibration_config(store, resume))
    grid = parse_grid(config.grid)
    if not config.budgets or min(config.budgets) < 1:
        raise ValueError(f"budgets must be positive generations, got {config.budgets}")
    problems = load_problems(config.dataset, fields=parse_field_map(config.fields),
                             offset=config.offset, limit=config.limit)
    cells = [GridCell(budget, entry) for budget in config.budgets for entry in grid]
    model = served_model(client)  # the run records which model it calibrated
    with store.run_scope(resume=resume, name=f"calibrate {config.dataset}", kind="calibrate",
                         env=ENV_ID, strategy="grid", model=model, llm_urls=client.urls,
                         config=asdict(config)) as run_id:
        state = read_calibration(store, run_id)
        wanted = [k for p in problems for k in (probe_key(p.uid), *[
            grid_key(p.uid, c.budget, c.entry.key) for c in cells])]
        answers = StoredAnswers.load(store.engine, run_id, state.replay_ids(wanted))
        with replaying([client], answers), store.recording(run_id, client, replayed=answers):
            asyncio.run(_run_all(config, cells, problems, run_id, client, verifier, store,
                                 grader, state, progress))
    results = calibration_results(store, run_id)
    accuracy: dict[str, dict[int, float]] = {}
    for cell in cells:
        oks = results.outcomes.get((cell.entry.key, cell.budget), [])
        if oks:
            accuracy.setdefault(cell.entry.key, {})[cell.budget] = sum(oks) / len(oks)
    return CalibrationSummary(run_id, len(problems), results.episodes, results.pass_rates,
                              accuracy)


async def _run_all(config: CalibrationConfig, cells: list[GridCell], problems: list[MathProblem],
                   run_id: int, client: LLMClient, verifier: Verifier | None,
                   store: TraceStore, grader: Grader, state: CalibrationState,
                   progress: Progress | None) -> None:
    sem = asyncio.Semaphore(max(1, config.concurrency))
    done = 0

    async def one(index: int, p: MathProblem) -> None:
        nonlocal done
        todo = [c for c in cells if not state.completed(grid_key(p.uid, c.budget, c.entry.key))]
        if todo or not state.completed(probe_key(p.uid)):
            async with sem:
                problem = ProblemRun(config, p, index, run_id, client, verifier, store, grader)
                probe = await (_replay_probe(problem, state.cells[probe_key(p.uid)])
                               if state.completed(probe_key(p.uid)) else
                               _probe_episode(problem, state.to_continue(probe_key(p.uid))))
                await asyncio.gather(*[  # concurrent: the server batches them
                    _grid_episode(problem, cell, probe,
                                  state.to_continue(grid_key(p.uid, cell.budget, cell.entry.key)))
                    for cell in todo])
        done += 1
        if progress is not None:
            progress(p.uid, done, len(problems))

    try:
        await asyncio.gather(*[one(config.offset + i, p) for i, p in enumerate(problems)])
    finally:
        await client.aclose()


def _ctx(problem: ProblemRun, budget: Budget) -> SearchContext:
    config = problem.config
    return SearchContext(problem.client, problem.verifier, budget, max_tokens=config.max_tokens,
                         step_max_tokens=config.step_max_tokens,
                         temperature=config.temperature, seed=problem.seed,
                         aggregation=config.aggregation, tags={"task": problem.problem.uid},
                         verifier_charged=config.verifier_charged,
                         same_answer=grader_equal(problem.grader))


async def _replay_probe(problem: ProblemRun, stored: tuple[int, bool, float]) -> ProbeOutcome:
    """A completed probe episode rebuilt from its stored calls (answered from the trace:
    nothing is asked or stored again); its pass@1 is the episode's reward."""
    token = current_episode.set(stored[0])
    try:
        probe = await run_probe(problem.problem.problem, _ctx(problem, Budget()),
                                problem.config.probe_n)
    finally:
        current_episode.reset(token)
    return ProbeOutcome(probe, stored[2])


async def _probe_episode(problem: ProblemRun, resume: int | None) -> ProbeOutcome:
    config, p, index, store = problem.config, problem.problem, problem.index, problem.store
    with store.episode_scope(problem.run_id, resume=resume, env=ENV_ID, task_id=p.uid,
                             seed=config.seed, reference=p.answer, strategy="probe",
                             info={"phase": "probe", "index": index}) as ep_id:
        probe = await run_probe(p.problem, _ctx(problem, Budget()), config.probe_n)
        extra = max(0, config.oracle_samples - len(probe.nodes))
        nodes = [copy.deepcopy(n) for n in probe.nodes]
        if extra:
            gen = await problem.client.chat(
                solver_messages(p.problem), role="oracle", n=extra,
                max_tokens=config.max_tokens, temperature=config.temperature,
                seed=problem.seed + 31, tags={"task": p.uid, "phase": "oracle"})
            nodes += [Node(f"oracle{i}", None, "oracle", c.text,
                           extract_answer(c.text, bare=False),
                           info={"finish_reason": c.finish_reason})
                      for i, c in enumerate(gen.choices)]
        grades = [await asyncio.to_thread(problem.grader.grade, n.answer, p.answer)
                  for n in nodes]
        for n, g in zip(nodes, grades, strict=True):
            n.info["correct"] = g.correct
        rate = sum(g.correct for g in grades) / len(grades) if grades else 0.0
        store.finish_episode(
            ep_id, nodes=[n.record() for n in nodes], reward=rate, success=None,
            difficulty=1.0 - rate,
            difficulty_source="oracle",
            info={"phase": "probe", "index": index, "level": p.level, "subject": p.subject,
                  "pass_at_1": rate, "k": len(grades), "probe_n": len(probe.nodes),
                  "signals": probe.signals.to_dict(),
                  "features": {**probe.signals.features(), **text_features(p.problem)},
                  "probe_generations": probe.counts.generations,
                  "probe_tokens": probe.counts.completion_tokens})
    return ProbeOutcome(probe, rate)


async def _grid_episode(problem: ProblemRun, cell: GridCell, probe: ProbeOutcome,
                        resume: int | None) -> bool:
    config, p, index, store = problem.config, problem.problem, problem.index, problem.store
    entry, budget = cell.entry, cell.budget
    judge_cost = int(problem.verifier is not None and config.verifier_charged)
    n = probe_size(config.probe_n, config.probe_max_fraction, budget, judge_cost)
    used = copy.deepcopy(probe.probe) if n and len(probe.probe.nodes) == n else Probe()
    spent_g, spent_t = used.counts.generations, used.counts.completion_tokens
    with store.episode_scope(problem.run_id, resume=resume, env=ENV_ID, task_id=p.uid,
                             seed=config.seed, reference=p.answer, strategy=entry.strategy,
                             info={"phase": "grid", "budget": budget, "config": entry.key,
                                   "index": index}) as ep_id:
        ctx = _ctx(problem, Budget(budget - spent_g))
        res = await run_chosen(p.problem, ctx, entry.strategy, dict(entry.params), used)
        grade = await asyncio.to_thread(problem.grader.grade, res.answer, p.answer)
        own = [n for n in res.nodes if not n.key.startswith("probe")]
        decision = {"strategy": entry.strategy, "params": entry.params, "budget": budget,
                    "config": entry.key, "answer": res.answer, "stop_reason": res.stop_reason,
                    "solver": asdict(res.solver), "verifier": asdict(res.verifier),
                    "probe": res.params.get("probe")}
        step = {"index": 0, "observation": p.problem, "action": res.solution,
                "reward": float(grade.correct), "terminated": True, "decision": decision,
                "info": {"grade_status": grade.status}}
        store.finish_episode(
            ep_id, nodes=[n.record() for n in own], steps=[step], reward=float(grade.correct),
            success=grade.correct, answer=res.answer or "",
            difficulty=1.0 - probe.pass_rate, difficulty_source="oracle",
            info={"phase": "grid", "budget": budget, "config": entry.key,
                  "params": entry.params, "index": index, "level": p.level,
                  "probe_generations": spent_g, "probe_tokens": spent_t,
                  "spent_generations": (res.budget.get("spent_generations") or 0) + spent_g,
                  "strategy_params": res.params.get("strategy_params")})
    return grade.correct
