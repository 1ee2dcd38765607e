"""`worldplan bank build`: generate a problem's samples, revision chains and searches once,
into a bank file (agent.banks.bank_file) and the trace database.

`build_bank(config, client=..., verifier=..., store=..., grader=..., out=...)` makes one
trace run of kind "bank" and, per problem of the slice, the units of agent.banks.units:
K judged samples, P revision chains of length L started from samples 0..P-1, and each
beam / DVTS search of `config.searches`. Each unit is one episode (its calls recorded
under it) and one line of the bank, appended when it finishes. All of a problem's units
run at once (the chains after its samples), and `config.concurrency` problems at a time,
so the server always has many sequences in flight.

Resuming (`resume=True`, the default when `out` exists): the units already in the bank are
not run; a unit whose episode was started but not finished (a killed build) runs again
under its episode with its stored calls answered from the trace (traces.resume), so no
finished call is asked again and the unit ends as an uninterrupted one would. The bank's
header must match the configuration (model, dataset, settings; the slice may grow).
Sharding: `shard=(i, n)` builds the problems at positions i, i+n, ... of the slice; shards
are joined by agent.banks.bank_file.merge_banks.
Seeds: sample seeds are derived from (config.seed, the problem's dataset index, the unit).
What each unit does is agent.runs.bank_work.
Not handled: extending K of an existing bank (build another bank), a PRM with a separate
server (pass `verifier`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from worldplan.agent.banks.bank_file import BankWriter, check_same_build, new_header, read_bank
from worldplan.agent.banks.units import (
    SAMPLES,
    chain_unit,
    parse_searches,
    search_unit,
)
from worldplan.agent.runs.bank_work import chain_unit_run, samples_unit, search_unit_run
from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.records import Ledger
from worldplan.envs.math.data import MathProblem, load_problems, parse_field_map
from worldplan.envs.math.equivalence import grader_equal
from worldplan.envs.math.grader import Grader
from worldplan.traces.resume import StoredAnswers, replaying
from worldplan.traces.schema import Episode, Run
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.verifier import Verifier

ENV_ID = "worldplan/Math-v0"
WIDTHS = {"beam": 4, "dvts": 2}  # M: children per beam per round (at most N)


@dataclass(frozen=True)
class BankConfig:
    dataset: str = "math-train"
    fields: str | None = None
    sample: int | None = None  # a seeded random sample of this many problems (else in order)
    offset: int = 0
    limit: int | None = 24
    shard: tuple[int, int] | None = None  # (i, n): positions i, i+n, ... of the slice
    k: int = 8  # samples per problem
    chains: int = 4  # P revision chains (attempt 1 of chain j is sample j)
    length: int = 4  # L attempts per chain
    history: int = 4  # earlier attempts a revision prompt shows
    searches: str = "beam:1,2,4,8;dvts:4,8"
    seed: int = 0
    max_tokens: int = 512
    step_max_tokens: int = 160
    temperature: float = 0.8
    concurrency: int = 4  # problems in flight

    def slice_of(self, problems: list[MathProblem]) -> list[tuple[int, MathProblem]]:
        order = list(range(len(problems)))
        if self.sample is not None:
            random.Random(f"bank-sample-{self.seed}").shuffle(order)  # prefix-stable
            order = order[:self.sample]
        end = None if self.limit is None else self.offset + self.limit
        chosen = order[self.offset:end]
        if self.shard is not None:
            i, n = self.shard
            chosen = chosen[i::n]
        return [(k, problems[k]) for k in chosen]


Progress = Callable[[int, int, str], None]  # (units done, units in all, last unit)


@dataclass
class BuildSummary:
    run_id: int
    problems: int
    units_built: int
    units_kept: int  # already in the bank
    replayed_calls: int  # answered from the trace (a resumed unit)
    seconds: float
    problems_found: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Deps:
    config: BankConfig
    client: LLMClient
    verifier: Verifier | None
    store: TraceStore
    grader: Grader
    writer: BankWriter
    run_id: int
    episodes: dict[tuple[str, str], int]  # (uid, unit) not in the bank -> its episode


def build_bank(config: BankConfig, *, client: LLMClient, verifier: Verifier | None,
               store: TraceStore, grader: Grader, out: str | Path, model: str,
               progress: Progress | None = None) -> BuildSummary:
    """Build (or continue) the bank at `out`; see the module docstring."""
    start = time.monotonic()
    searches = parse_searches(config.searches)
    if config.chains > config.k or config.k < 1 or config.length < 1:
        raise ValueError(f"need 1 <= chains ({config.chains}) <= k ({config.k}), length >= 1")
    problems = config.slice_of(load_problems(config.dataset,
                                             fields=parse_field_map(config.fields)))
    header = new_header(model=model, dataset=config.dataset,
                        config={**asdict(config), "verifier": getattr(verifier, "kind", None),
                                "widths": WIDTHS})
    out = Path(out)
    have = read_bank(out) if out.exists() else None
    if have is not None:
        check_same_build(have.header, header, where=str(out))
    names = [SAMPLES, *[chain_unit(j) for j in range(config.chains if config.length > 1
                                                      else 0)],
             *[search_unit(s, n) for s, n in searches]]
    todo = [(i, p, [u for u in names if have is None or have.unit(p.uid, u) is None])
            for i, p in problems]
    total = len(problems) * len(names)
    kept = total - sum(len(u) for _, _, u in todo)
    writer = BankWriter(out, header)
    run = _bank_run(store, out)
    with store.run_scope(resume=run, name=f"bank {config.dataset}", kind="bank", env=ENV_ID,
                         strategy="bank", model=model, llm_urls=client.urls,
                         config={**asdict(config), "out": str(out.resolve())}) as run_id:
        wanted = {(p.uid, u) for _, p, units in todo for u in units}
        episodes = {k: e for k, e in _episodes(store, run_id).items() if k in wanted}
        answers = StoredAnswers.load(store.engine, run_id, episodes.values())
        deps = _Deps(config, client, verifier, store, grader, writer, run_id, episodes)
        done = [kept]

        def tick(unit: str) -> None:
            done[0] += 1
            if progress is not None:
                progress(done[0], total, unit)

        with replaying([client], answers), store.recording(run_id, client, replayed=answers):
            asyncio.run(_all(deps, [t for t in todo if t[2]], have, tick))
    found = read_bank(out).problems_found
    return BuildSummary(run_id, len(problems), total - kept, kept, answers.served,
                        time.monotonic() - start, found)


def _bank_run(store: TraceStore, out: Path) -> int | None:
    """The latest bank run that wrote to `out` (its unfinished units continue there)."""
    with Session(store.engine) as s:
        runs = s.exec(select(Run).where(Run.kind == "bank").order_by(Run.id.desc()))  # type: ignore[union-attr]
        for r in runs:
            if (r.config or {}).get("out") == str(out.resolve()):
                return r.id
    return None


def _episodes(store: TraceStore, run_id: int) -> dict[tuple[str, str], int]:
    """The latest episode of each (uid, unit) of the run, finished or not: a unit that is
    not in the bank runs again under it (killed after its episode ended but before its
    line was written, it replays every call)."""
    with Session(store.engine) as s:
        eps = s.exec(select(Episode).where(Episode.run_id == run_id)
                     .order_by(Episode.id))  # type: ignore[arg-type]
        return {(e.task_id, str((e.info or {}).get("unit"))): int(e.id or 0) for e in eps}


async def _all(deps: _Deps, todo: list[tuple[int, MathProblem, list[str]]], have: Any,
               tick: Callable[[str], None]) -> None:
    sem = asyncio.Semaphore(max(1, deps.config.concurrency))

    async def problem(index: int, p: MathProblem, units: list[str]) -> None:
        async with sem:
            stored = have.unit(p.uid, SAMPLES) if have is not None else None
            samples_task = (asyncio.create_task(_unit(deps, index, p, SAMPLES, tick))
                            if SAMPLES in units else None)
            others = [u for u in units if u != SAMPLES and not u.startswith("chain:")]
            searches = [asyncio.create_task(_unit(deps, index, p, u, tick)) for u in others]
            samples = await samples_task if samples_task is not None else stored
            chains = [u for u in units if u.startswith("chain:")]
            await asyncio.gather(*[_unit(deps, index, p, u, tick, samples) for u in chains],
                                 *searches)

    try:
        await asyncio.gather(*[problem(i, p, u) for i, p, u in todo])
    finally:
        await deps.client.aclose()


async def _unit(deps: _Deps, index: int, p: MathProblem, unit: str,
                tick: Callable[[str], None], samples: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    c, store = deps.config, deps.store
    seed = (c.seed * 10_007 + index) * 1_000 + _unit_offset(unit)
    ledger = Ledger()
    ctx = SearchContext(deps.client, deps.verifier, Budget(), max_tokens=c.max_tokens,
                        step_max_tokens=c.step_max_tokens, temperature=c.temperature,
                        seed=seed, tags={"task": p.uid, "unit": unit},
                        same_answer=grader_equal(deps.grader), ledger=ledger)
    with store.episode_scope(deps.run_id, resume=deps.episodes.get((p.uid, unit)), env=ENV_ID,
                             task_id=p.uid, seed=c.seed, reference=p.answer, strategy=unit,
                             info={"phase": "bank", "unit": unit, "index": index}) as ep_id:
        if unit == SAMPLES:
            payload = await samples_unit(ctx, p, deps.grader, k=c.k, max_tokens=c.max_tokens,
                                         temperature=c.temperature)
        elif unit.startswith("chain:"):
            assert samples is not None
            payload = await chain_unit_run(ctx, p, deps.grader, samples,
                                           int(unit.split(":")[1]), length=c.length,
                                           history=c.history, max_tokens=c.max_tokens)
        else:
            strategy, n = unit.split(":")
            payload = await search_unit_run(ctx, p, deps.grader, strategy, int(n),
                                            WIDTHS[strategy])
        record = {"uid": p.uid, "unit": unit, "index": index, "reference": p.answer,
                  "level": p.level, "subject": p.subject, **payload, "run": deps.run_id,
                  "counts": {"solver": asdict(ledger.solver),
                             "verifier": asdict(ledger.verifier)}}
        deps.writer.append(record)
        store.finish_episode(ep_id, reward=None, success=None,
                             info={"phase": "bank", "unit": unit, "index": index})
    tick(f"{p.uid} {unit}")
    return record


def _unit_offset(unit: str) -> int:
    if unit == SAMPLES:
        return 0
    name, _, n = unit.partition(":")
    return {"chain": 100, "beam": 200, "dvts": 300}[name] + int(n)
