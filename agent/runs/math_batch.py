"""`worldplan math --budget-mode batch`: an average budget over a dataset slice, allocated
across problems by predicted difficulty, with unspent budget returned to the pool.

`run_math_batch(config, policy, average, ...)` makes one trace run of kind "math-batch"
and, per problem, one episode:
1. probe: `policy.probe["n"]` samples, judged (agent.strategies.probe), charged to the
   problem; its difficulty bin predicted by the policy's estimator (agent.control.decide);
2. allocation (once every probe is in): each problem's options are the policy budgets above
   the probe's cost, at the policy row's accuracy for its bin; agent.banks.allocation spends
   `average` x problems by marginal gains, no problem above `cap`;
3. each problem runs its bin's configuration for its budget (agent.strategies
   .compute_optimal.run_chosen, the probe's samples joining the vote) on its allocation
   minus the probe, plus whatever the pool holds up to the cap; best-of-N stops sampling once
   its answers agree when `agree` is set; what a problem does not spend returns to the pool
   for the problems that start after it.
The batch never spends more than `average` x problems generation-equivalents: the
allocation fits in it, and a problem draws beyond its allocation only what others returned.
Not handled: resuming a killed batch (run it again), token or FLOPs averages.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import asdict, dataclass
from typing import Any

from worldplan.agent.banks.allocation import allocate
from worldplan.agent.control.decide import make_estimator
from worldplan.agent.control.difficulty import Estimate
from worldplan.agent.control.policy import Policy
from worldplan.agent.runs.math import ENV_ID, MathRunConfig, verifier_clients
from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.compute_optimal import run_chosen
from worldplan.agent.strategies.probe import Probe, run_probe
from worldplan.envs.math.data import MathProblem, load_problems, parse_field_map
from worldplan.envs.math.equivalence import grader_equal
from worldplan.envs.math.grader import Grader
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.verifier import Verifier

SAMPLING = ("best_of_n", "best_of_n_naive", "majority")  # they can stop on agreement


@dataclass
class BatchOutcome:
    uid: str
    bin: int | None
    allocated: int  # generation-equivalents, probe included
    spent: int  # what it drew (probe included)
    correct: bool
    strategy: str
    predicted: float | None = None  # the policy row's accuracy: what the bank expected


@dataclass
class BatchSummary:
    run_id: int
    average: float
    outcomes: list[BatchOutcome]

    @property
    def accuracy(self) -> float:
        return sum(o.correct for o in self.outcomes) / max(len(self.outcomes), 1)

    @property
    def mean_spent(self) -> float:
        return sum(o.spent for o in self.outcomes) / max(len(self.outcomes), 1)

    @property
    def predicted_accuracy(self) -> float | None:
        """The offline prediction: the mean of the chosen rows' accuracies on the bank."""
        known = [o.predicted for o in self.outcomes if o.predicted is not None]
        return sum(known) / len(known) if known else None


class Pool:
    """Generation-equivalents returned by problems that finished under their allocation."""

    def __init__(self) -> None:
        self.left = 0

    def take(self, most: int) -> int:
        got = max(0, min(self.left, most))
        self.left -= got
        return got

    def give(self, unspent: int) -> None:
        self.left += max(0, unspent)


def run_math_batch(config: MathRunConfig, *, policy: Policy, average: float, cap: int,
                   agree: float | None, client: LLMClient, verifier: Verifier | None,
                   store: TraceStore, grader: Grader) -> BatchSummary:
    problems = load_problems(config.dataset, fields=parse_field_map(config.fields),
                             offset=config.offset, limit=config.limit)
    with store.run_scope(name=f"math batch {config.dataset}", kind="math-batch", env=ENV_ID,
                         strategy="compute-optimal", model=client.model or "",
                         llm_urls=client.urls,
                         config={**asdict(config), "average": average, "cap": cap,
                                 "agree": agree, "policy": policy.source}) as run_id:
        with store.recording(run_id, client, *verifier_clients(client, verifier)):
            outcomes = asyncio.run(_batch(config, problems, policy, average, cap, agree,
                                          run_id, client, verifier, store, grader))
    return BatchSummary(run_id, average, outcomes)


async def _batch(config: MathRunConfig, problems: list[MathProblem], policy: Policy,
                 average: float, cap: int, agree: float | None, run_id: int,
                 client: LLMClient, verifier: Verifier | None, store: TraceStore,
                 grader: Grader) -> list[BatchOutcome]:
    n_probe = int(policy.probe["n"])
    estimator = make_estimator("auto", policy)
    pool, sem = Pool(), asyncio.Semaphore(max(1, config.concurrency))

    def ctx(p: MathProblem, i: int, budget: Budget) -> SearchContext:
        return SearchContext(client, verifier, budget, max_tokens=config.max_tokens,
                             step_max_tokens=config.step_max_tokens,
                             temperature=config.temperature, seed=config.seed * 10_007 + i,
                             aggregation=config.aggregation, tags={"task": p.uid},
                             same_answer=grader_equal(grader))

    async def probe_one(i: int, p: MathProblem) -> _Probed:
        async with sem:
            with store.episode_scope(run_id, env=ENV_ID, task_id=p.uid, seed=config.seed,
                                     reference=p.answer, strategy="compute-optimal",
                                     info={"phase": "batch", "index": i}) as ep:
                budget = Budget(max_generations=cap)
                c = ctx(p, i, budget)
                probe = await run_probe(p.problem, c, n_probe)
        est = estimator.estimate(p.problem, probe.signals if probe.nodes else None)
        return _Probed(i, p, ep, c, probe, est)

    async def solve_one(q: _Probed, mine: int) -> BatchOutcome:
        p, budget = q.problem, q.ctx.budget
        async with sem:  # in problem order: a later problem gets what earlier ones returned
            with store.episode_scope(run_id, resume=q.episode):
                extra = pool.take(cap - mine)
                budget.max_generations = mine + extra  # the probe's share is spent already
                entry = policy.row(q.estimate.bin, mine)
                assert entry is not None  # options are policy budgets
                params = dict(entry.params)
                if agree is not None and entry.strategy in SAMPLING:
                    params["agree"] = agree
                res = await run_chosen(p.problem, q.ctx, entry.strategy, params,
                                       copy.deepcopy(q.probe) if q.probe.nodes else Probe())
                pool.give(budget.max_generations - budget.spent_generations)
                grade = await asyncio.to_thread(grader.grade, res.answer, p.answer)
                decision: dict[str, Any] = {
                    "bin": q.estimate.bin, "allocated": mine, "extra": extra,
                    "strategy": entry.strategy, "params": params,
                    "spent": budget.spent_generations, "difficulty": q.estimate.to_dict()}
                store.finish_episode(
                    q.episode, nodes=[nd.record() for nd in res.nodes],
                    reward=float(grade.correct), success=grade.correct,
                    answer=res.answer or "",
                    steps=[{"index": 0, "observation": p.problem, "action": res.solution,
                            "reward": float(grade.correct), "terminated": True,
                            "decision": decision, "info": {}}],
                    info={"phase": "batch", "index": q.index, **decision})
        return BatchOutcome(p.uid, q.estimate.bin, mine, budget.spent_generations,
                            grade.correct, entry.strategy, entry.accuracy)

    try:
        probed = list(await asyncio.gather(*[probe_one(config.offset + k, p)
                                             for k, p in enumerate(problems)]))
        budgets = _allocate(probed, policy, average, cap)
        return list(await asyncio.gather(*[solve_one(q, b)
                                           for q, b in zip(probed, budgets, strict=True)]))
    finally:
        for c in (client, *verifier_clients(client, verifier)):
            await c.aclose()


@dataclass
class _Probed:
    index: int
    problem: MathProblem
    episode: int
    ctx: SearchContext
    probe: Probe
    estimate: Estimate


def _allocate(probed: list[_Probed], policy: Policy, average: float, cap: int) -> list[int]:
    """Each problem's budget (probe included) from its bin's policy rows."""
    options = []
    for q in probed:
        b, spent = q.estimate.bin, q.probe.counts.generations
        rows = [(float(bu), policy.row(b, bu))
                for bu in policy.budgets if spent < bu <= cap]
        opts = [(c, e.accuracy or 0.0) for c, e in rows if e is not None]
        options.append(opts or [(float(max(spent, 1)), 0.0)])
    chosen = allocate(options, average, cap=float(cap))
    return [int(opts[j][0]) for opts, j in zip(options, chosen, strict=True)]
