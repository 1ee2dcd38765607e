"""`worldplan web-controller collect`: counterfactual outcomes of the web agent's routes.

For each task x seed: a base episode run reactively (its real actions and pages kept);
then up to `states` of its steps, sampled with a seed of their own (`sample_steps`: the
same on every rerun), each restored by reset and replay (pages are seeded and
deterministic; a restored page that differs from the base episode's is flagged, not
hidden); at each, the step's n proposals and difficulty features measured once
(WebDomain.propose and .estimate, as the live agent does); then for each route arm
(agent.web.arms) the state is restored again, the arm's search runs under a budget of its
allowance, its action is executed, and the episode continues reactively to its end. Every
base episode, state and (state, arm) is a record of the counterfactual file
(agent.web.counterfactual_rows), written whole as soon as it is done.

Resumable: what the file holds is not done again (no LLM call for a finished base episode,
state or arm; only the replay of the page), and lines that are not whole records are
reported. With a trace store, every rollout is an Episode of one run (kind
"web-counterfactual") and every LLM call is stored under it, as `worldplan web` runs
store theirs; the calls are not answered from the trace on a rerun (the file is the cache).
Episodes (task x seed, each with its states and arms, on its own page) run `parallel` at
a time (default 1: one page keeps a loaded 2-core host usable; a few keep the server's
batch full); records are written whole as each finishes, so the file's order can differ
between runs. Not handled: fitting (agent.web.controller_fit).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from dataclasses import asdict, dataclass, field

from worldplan.agent.graph.state import AgentState
from worldplan.agent.graph.tree import Keys
from worldplan.agent.runs.web_envs import WebEnvs
from worldplan.agent.runs.web_rollouts import page_of, reactive, restore, take_arm, uncached
from worldplan.agent.web.arms import DEFAULT_ARMS, Arm, arm_decision, parse_arms
from worldplan.agent.web.config import AgentClients, WebAgentConfig, make_models
from worldplan.agent.web.counterfactual_rows import (
    ArmRecord,
    BaseRecord,
    Collected,
    CounterfactualFile,
    Record,
    StateRecord,
)
from worldplan.agent.web.domain import CALL_OVERHEAD, WebDomain, WebEnvLike
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.accounting import Budget


@dataclass(frozen=True)
class CounterfactualConfig:
    arms: str = DEFAULT_ARMS  # agent.web.arms.parse_arms
    states: int = 2  # sampled steps per base episode
    n: int = 3  # proposals at a sampled step (its difficulty features)
    sample_seed: int = 0  # seed of the sampled steps
    continuation_tokens: int | None = None  # tokens after the arm, the agent's unit (None: any)
    agent: WebAgentConfig = field(default_factory=lambda: WebAgentConfig(strategy="reactive"))


@dataclass
class Collection:
    path: str
    written: Counter[str] = field(default_factory=Counter)  # records written, by kind
    kept: int = 0  # (state, arm) records already in the file
    unrestored: int = 0  # restored pages that differed from the base episode's
    unread: str = ""  # the file's lines that were not whole records (Collected.report)


def sample_steps(steps: int, k: int, seed: int, task: str, episode_seed: int) -> list[int]:
    """Up to k of the steps 0..steps-1, chosen by a Random seeded with (seed, task, seed)."""
    rng = random.Random(f"{seed}:{task}:{episode_seed}")
    return sorted(rng.sample(range(steps), min(k, steps)))


@contextmanager
def traced(store: TraceStore | None, run_id: int | None, task: str, seed: int,
           label: str) -> Iterator[Callable[..., object]]:
    """An Episode for one rollout (its LLM calls are stored under it); yields `finish`."""
    if store is None or run_id is None:
        yield lambda **_: None
        return
    with store.episode_scope(run_id, env="web", task_id=task, seed=seed,
                             strategy="counterfactual", info={"rollout": label}) as ep:
        yield lambda **kw: store.finish_episode(ep, **kw)


class Collector:
    """One collection: the file, what it held, the arms, the models' settings."""

    def __init__(self, path: str, config: CounterfactualConfig, clients: AgentClients, *,
                 store: TraceStore | None = None, model: str = "",
                 on_record: Callable[[Record], None] | None = None) -> None:
        self.file, self.config, self.clients = CounterfactualFile(path), config, clients
        self.arms: list[Arm] = parse_arms(config.arms)
        self.done: Collected = self.file.read()
        self.store, self.model, self.on_record = store, model, on_record
        self.run_id: int | None = None
        self.summary = Collection(path, unread=self.done.report())

    def _write(self, record: Record) -> None:
        self.file.append(record)
        self.summary.written[record.kind] += 1
        if self.on_record is not None:
            self.on_record(record)

    async def episode(self, env: WebEnvLike, task: str, seed: int) -> None:
        """The base episode, its sampled states, and every arm not yet in the file."""
        agent = self.config.agent
        domain = WebDomain(env, make_models(self.clients, agent, seed), seed=seed,
                           max_attempts=agent.max_attempts,
                           call_overhead=CALL_OVERHEAD if agent.count_prompts else 0)
        base = self.done.bases.get((task, seed))
        if base is None:
            base = await self._base(domain, task, seed)
        for k in sample_steps(len(base.actions), self.config.states,
                              self.config.sample_seed, task, seed):
            pending = [a for a in self.arms if (task, seed, k, a.key) not in self.done.arms]
            self.summary.kept += len(self.arms) - len(pending)
            if pending:
                await self._state(domain, base, k, pending)

    async def _base(self, domain: WebDomain, task: str, seed: int) -> BaseRecord:
        agent, t0 = self.config.agent, time.time()
        budget = Budget(agent.budget_generations, agent.budget_tokens,
                        count_prompts=agent.count_prompts)
        with traced(self.store, self.run_id, task, seed, "base") as finish:
            roll = await reactive(domain, await restore(domain, task, [], agent.max_steps),
                                  budget)
            reward = float(roll.state.get("reward", 0.0))
            success = reward >= agent.success_threshold
            finish(reward=reward, success=success, wall_time_s=time.time() - t0)
        base = BaseRecord(task, seed, list(roll.state["actions"]), roll.pages, reward,
                          success, budget.spent_completion_tokens, time.time() - t0,
                          str(roll.state.get("stop_reason", "")))
        self._write(base)
        return base

    async def _state(self, domain: WebDomain, base: BaseRecord, k: int,
                     arms: Sequence[Arm]) -> None:
        agent, task, seed = self.config.agent, base.task, base.seed
        live = await restore(domain, task, base.actions[:k], agent.max_steps)
        rec = self.done.states.get((task, seed, k))
        if rec is None:
            probe = Budget(None, None, count_prompts=agent.count_prompts)
            with traced(self.store, self.run_id, task, seed, f"state {k}") as finish:
                cands = await domain.propose(live, self.config.n, probe, Keys(k))
                est = domain.estimate(live.get("goal", ""), cands, live)
                finish(info={"rollout": f"state {k}", "difficulty": est.to_dict()})
            page = page_of(domain, live)
            rec = StateRecord(task, seed, k, est.features, cands, page, page == base.pages[k],
                              probe.spent_completion_tokens)
            self._write(rec)
        fresh: AgentState | None = live  # the first arm starts from the page just measured
        for arm in arms:
            here = (fresh if fresh is not None
                    else await restore(domain, task, base.actions[:k], agent.max_steps))
            fresh = None  # the arm changes the page: the next one restores it again
            restored = page_of(domain, here) == base.pages[k]
            self.summary.unrestored += not restored
            await self._arm(domain, base, rec, here, arm, restored)

    async def _arm(self, domain: WebDomain, base: BaseRecord, rec: StateRecord,
                   live: AgentState, arm: Arm, restored: bool) -> None:
        agent, k, t0 = self.config.agent, rec.step, time.time()
        readable = sum(1 for c in rec.candidates if c.get("answer"))
        decision = arm_decision(arm, proposals=self.config.n, readable=readable,
                                costs=domain.costs)
        with traced(self.store, self.run_id, base.task, base.seed, f"{arm.key} at {k}") \
                as finish:
            step = await take_arm(domain, live, rec.candidates, decision,
                                  count_prompts=agent.count_prompts)
            cont_budget = Budget(None, self.config.continuation_tokens,
                                 count_prompts=agent.count_prompts)
            cont = await reactive(domain, step.state, cont_budget)
            reward = float(cont.state.get("reward", 0.0))
            success = reward >= agent.success_threshold
            finish(reward=reward, success=success)
        self._write(ArmRecord(
            base.task, base.seed, k, arm.key, arm.route, dict(arm.params),
            int(decision.get("allowance") or 0), dict(rec.features), success, reward,
            step.tokens, step.completion_tokens, uncached(cont_budget),
            cont_budget.spent_completion_tokens, int(cont.state["step"]) - k - 1,
            time.time() - t0, step.action, base.actions[k],
            {"route": decision.get("route"), "params": decision.get("params", {})},
            restored, self.model))


async def collect_counterfactuals(path: str, *, tasks: Sequence[str], seeds: Sequence[int],
                                  clients: AgentClients, config: CounterfactualConfig,
                                  envs: WebEnvs, store: TraceStore | None = None,
                                  on_record: Callable[[Record], None] | None = None,
                                  parallel: int = 1) -> Collection:
    """Every task x seed, `parallel` episodes (pages) at a time (see the module
    docstring)."""
    model = await clients.proposer.served_model()
    collector = Collector(path, config, clients, store=store, model=model,
                          on_record=on_record)
    async with AsyncExitStack() as stack:
        if store is not None:
            run_config = {"tasks": list(tasks), "seeds": list(seeds), "file": path,
                          **{k: v for k, v in asdict(config).items() if k != "agent"},
                          "agent": asdict(config.agent)}
            collector.run_id = stack.enter_context(store.run_scope(
                name=f"web counterfactuals -> {path}", kind="web-counterfactual",
                env="miniwob", strategy="counterfactual", model=model,
                llm_urls=sorted({u for c in clients.distinct() for u in c.urls}),
                config=run_config))
            stack.enter_context(store.recording(collector.run_id, *clients.distinct()))
        gate = asyncio.Semaphore(max(1, parallel))

        async def one(task: str, seed: int) -> None:
            async with gate, envs.episode(task) as env:
                await collector.episode(env, task, seed)

        async with envs:
            await asyncio.gather(*[one(task, seed) for task in tasks for seed in seeds])
    return collector.summary
