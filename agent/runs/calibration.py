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
Reading the runs back and fitting are in agent.control.fitting.
Not handled: resuming a calibration run (start a new one on the remaining slice).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from worldplan.agent.control.difficulty import text_features
from worldplan.agent.control.policy import config_key
from worldplan.agent.math.solvers import get_solver
from worldplan.agent.strategies.base import Node, SearchContext
from worldplan.agent.strategies.compute_optimal import probe_size, run_chosen
from worldplan.agent.strategies.probe import Probe, run_probe
from worldplan.envs.math.answer import extract_answer
from worldplan.envs.math.data import MathProblem, load_problems, parse_field_map
from worldplan.envs.math.grader import Grader
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.prompts import solver_messages
from worldplan.worldmodel.math.verifier import Verifier

ENV_ID = "worldplan/Math-v0"


@dataclass(frozen=True)
class GridEntry:
    strategy: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return config_key(self.strategy, self.params)


DEFAULT_GRID = "best_of_n;revisions:per_chain=2;revisions:per_chain=4;beam:n_beams=4,width=2"


def parse_grid(spec: str) -> list[GridEntry]:
    """"best_of_n;beam:n_beams=4,width=2" -> grid entries (values read as int, else text)."""
    out = []
    for item in (s.strip() for s in spec.split(";")):
        if not item:
            continue
        name, _, rest = item.partition(":")
        params: dict[str, Any] = {}
        for kv in (p for p in rest.split(",") if p.strip()):
            k, sep, v = kv.partition("=")
            if not sep:
                raise ValueError(f"grid entry {item!r}: use name:key=value,key=value")
            params[k.strip()] = int(v) if v.strip().lstrip("-").isdigit() else v.strip()
        get_solver(name.strip())  # unknown names fail here, before any run
        out.append(GridEntry(name.strip(), params))
    if not out:
        raise ValueError(f"empty grid {spec!r}")
    return out


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


@dataclass
class CalibrationSummary:
    run_id: int
    problems: int
    episodes: int
    pass_rates: dict[str, float]
    accuracy: dict[str, dict[int, float]]  # config -> budget -> accuracy


Progress = Callable[[str, int, int], None]  # (problem uid, done, total)


@dataclass(frozen=True)
class GridCell:
    """One cell of the grid: a configuration at a budget (generations per problem)."""

    budget: int
    entry: GridEntry


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
              store: TraceStore, grader: Grader, progress: Progress | None = None
              ) -> CalibrationSummary:
    grid = parse_grid(config.grid)
    if not config.budgets or min(config.budgets) < 1:
        raise ValueError(f"budgets must be positive generations, got {config.budgets}")
    problems = load_problems(config.dataset, fields=parse_field_map(config.fields),
                             offset=config.offset, limit=config.limit)
    summary = CalibrationSummary(0, len(problems), 0, {}, {})
    asyncio.run(_calibrate(config, grid, problems, client, verifier, store, grader, summary,
                           progress))
    return summary


async def _calibrate(config: CalibrationConfig, grid: list[GridEntry],
                     problems: list[MathProblem], client: LLMClient, verifier: Verifier | None,
                     store: TraceStore, grader: Grader, summary: CalibrationSummary,
                     progress: Progress | None) -> None:
    try:
        model = await client.served_model()  # the run records which model it calibrated
        with store.run_scope(name=f"calibrate {config.dataset}", kind="calibrate",
                             env=ENV_ID, strategy="grid", model=model, llm_urls=client.urls,
                             config=asdict(config)) as run_id:
            summary.run_id = run_id
            with store.recording(run_id, client):
                await _run_all(config, grid, problems, run_id, client, verifier, store,
                               grader, summary, progress)
    finally:
        await client.aclose()


async def _run_all(config: CalibrationConfig, grid: list[GridEntry], problems: list[MathProblem],
                   run_id: int, client: LLMClient, verifier: Verifier | None,
                   store: TraceStore, grader: Grader, summary: CalibrationSummary,
                   progress: Progress | None) -> None:
    sem = asyncio.Semaphore(max(1, config.concurrency))
    done = 0
    wins: dict[str, dict[int, list[bool]]] = {}
    cells = [GridCell(budget, entry) for budget in config.budgets for entry in grid]

    async def one(index: int, p: MathProblem) -> None:
        nonlocal done
        async with sem:
            problem = ProblemRun(config, p, index, run_id, client, verifier, store, grader)
            probe = await _probe_episode(problem)
            summary.pass_rates[p.uid] = probe.pass_rate
            summary.episodes += 1
            oks = await asyncio.gather(*[  # concurrent: the server batches them
                _grid_episode(problem, cell, probe) for cell in cells])
            for cell, ok in zip(cells, oks, strict=True):
                wins.setdefault(cell.entry.key, {}).setdefault(cell.budget, []).append(ok)
                summary.episodes += 1
        done += 1
        if progress is not None:
            progress(p.uid, done, len(problems))

    await asyncio.gather(*[one(config.offset + i, p) for i, p in enumerate(problems)])
    summary.accuracy = {k: {b: sum(v) / len(v) for b, v in per.items()}
                        for k, per in wins.items()}


def _ctx(problem: ProblemRun, budget: Budget) -> SearchContext:
    config = problem.config
    return SearchContext(problem.client, problem.verifier, budget, max_tokens=config.max_tokens,
                         step_max_tokens=config.step_max_tokens,
                         temperature=config.temperature, seed=problem.seed,
                         aggregation=config.aggregation, tags={"task": problem.problem.uid})


async def _probe_episode(problem: ProblemRun) -> ProbeOutcome:
    config, p, index, store = problem.config, problem.problem, problem.index, problem.store
    with store.episode_scope(problem.run_id, env=ENV_ID, task_id=p.uid, seed=config.seed,
                             reference=p.answer, strategy="probe",
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
        store.add_nodes(ep_id, [n.record() for n in nodes])
        store.finish_episode(
            ep_id, reward=rate, success=None, difficulty=1.0 - rate,
            difficulty_source="oracle",
            info={"phase": "probe", "index": index, "level": p.level, "subject": p.subject,
                  "pass_at_1": rate, "k": len(grades), "probe_n": len(probe.nodes),
                  "signals": probe.signals.to_dict(),
                  "features": {**probe.signals.features(), **text_features(p.problem)},
                  "probe_generations": probe.counts.generations,
                  "probe_tokens": probe.counts.completion_tokens})
    return ProbeOutcome(probe, rate)


async def _grid_episode(problem: ProblemRun, cell: GridCell, probe: ProbeOutcome) -> bool:
    config, p, index, store = problem.config, problem.problem, problem.index, problem.store
    entry, budget = cell.entry, cell.budget
    vcost = 0 if problem.verifier is None else problem.verifier.generations_per_call
    n = probe_size(config.probe_n, config.probe_max_fraction, budget, vcost)
    used = copy.deepcopy(probe.probe) if n and len(probe.probe.nodes) == n else Probe()
    spent_g, spent_t = used.counts.generations, used.counts.completion_tokens
    with store.episode_scope(problem.run_id, env=ENV_ID, task_id=p.uid, seed=config.seed,
                             reference=p.answer, strategy=entry.strategy,
                             info={"phase": "grid", "budget": budget, "config": entry.key,
                                   "index": index}) as ep_id:
        ctx = _ctx(problem, Budget(budget - spent_g))
        res = await run_chosen(p.problem, ctx, entry.strategy, dict(entry.params), used)
        grade = await asyncio.to_thread(problem.grader.grade, res.answer, p.answer)
        own = [n for n in res.nodes if not n.key.startswith("probe")]
        store.add_nodes(ep_id, [n.record() for n in own])
        decision = {"strategy": entry.strategy, "params": entry.params, "budget": budget,
                    "config": entry.key, "answer": res.answer, "stop_reason": res.stop_reason,
                    "solver": asdict(res.solver), "verifier": asdict(res.verifier),
                    "probe": res.params.get("probe")}
        store.add_step(ep_id, index=0, observation=p.problem, action=res.solution,
                       reward=float(grade.correct), terminated=True, decision=decision,
                       info={"grade_status": grade.status})
        store.finish_episode(
            ep_id, reward=float(grade.correct), success=grade.correct, answer=res.answer or "",
            difficulty=1.0 - probe.pass_rate, difficulty_source="oracle",
            info={"phase": "grid", "budget": budget, "config": entry.key,
                  "params": entry.params, "index": index, "level": p.level,
                  "probe_generations": spent_g, "probe_tokens": spent_t,
                  "spent_generations": (res.budget.get("spent_generations") or 0) + spent_g,
                  "strategy_params": res.params.get("strategy_params")})
    return grade.correct
