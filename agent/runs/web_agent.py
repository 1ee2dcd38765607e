"""Web agent runs: one episode through the graph, and a whole run, stored as traces.

`run_agent_episode` stores one episode (Episode row, and through the graph's recorder its
Steps and SearchNodes, and the LLM calls of the three roles), with a LangGraph
checkpointer if given; `run_web_agent` is `worldplan web --strategy ...`: the page server,
one browser, a Run, every task x seed, the per-task summary (the same `WebRunResult` as
the scripted agents). `resume=(run_id, plan)` (agent.runs.web_resume) continues an
interrupted run: its completed episodes are kept, the others continue from their last
checkpoint under their episode ids, and the LLM calls they had stored are answered from
the trace (traces.resume: not asked again, not stored twice); a step that a killed process
had already recorded is recorded again in its place (TraceStore.put_step), and an episode
whose graph had finished is only closed. The environments come from `envs`
(agent.runs.web_envs: the MiniWoB++ pages in a real browser unless told otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from sqlmodel import Session

from worldplan.agent.graph.budgets import budget_from_state
from worldplan.agent.graph.build import run_graph, saved_state
from worldplan.agent.graph.nodes import AgentContext
from worldplan.agent.graph.state import AgentState, initial_state
from worldplan.agent.runs.recorder import EpisodeRecorder
from worldplan.agent.runs.web_envs import MiniWoBEnvs, WebEnvs
from worldplan.agent.runs.web_episodes import EpisodeOutcome, gather_episodes
from worldplan.agent.runs.web_resume import ResumePlan, checkpointed_calls, thread_id_of
from worldplan.agent.runs.web_scripted import WebRunResult, store_summary
from worldplan.agent.web.config import AgentClients, WebAgentConfig, make_models, needs_twin
from worldplan.agent.web.difficulty import WebDifficulty
from worldplan.agent.web.domain import CALL_OVERHEAD, WebDomain, WebEnvLike, WebModels
from worldplan.agent.web.router import WebRouter, make_router
from worldplan.envs.web.browser import BrowserConfig
from worldplan.envs.web.tasks.registry import category_of
from worldplan.traces.resume import StoredAnswers, replaying
from worldplan.traces.schema import Episode
from worldplan.traces.store import TraceStore, current_episode
from worldplan.worldmodel.llm.accounting import Budget


async def run_agent_episode(env: WebEnvLike, task: str, seed: int, models: WebModels,
                            router: WebRouter, store: TraceStore, run_id: int,
                            config: WebAgentConfig, *,
                            checkpointer: BaseCheckpointSaver[Any] | None = None,
                            episode_id: int | None = None, category: str = ""
                            ) -> EpisodeOutcome:
    """One episode through the graph; `episode_id` continues an interrupted episode from
    its checkpoint (same run, task and seed)."""
    t0 = time.time()
    thread = thread_id_of(run_id, task, seed)
    saved = await saved_state(checkpointer, thread) if checkpointer is not None else None
    earlier, earlier_retries = (0, []) if episode_id is None else earlier_attempts(
        store, episode_id)
    if episode_id is None:
        episode_id = store.start_episode(run_id, env="web", task_id=task, seed=seed,
                                         strategy=config.strategy,
                                         info={"category": category, "thread_id": thread})
    out = EpisodeOutcome(task, seed, episode_id)
    init = None if saved else initial_state(kind="web", task=task, seed=seed,
                                            max_steps=config.max_steps)
    # the budget's tokens: uncached prompt + completion (config.count_prompts), all roles
    budget = (budget_from_state(saved, config.budget_generations, config.budget_tokens,
                                count_prompts=config.count_prompts)
              if init is None and saved else Budget(config.budget_generations,
                                                    config.budget_tokens,
                                                    count_prompts=config.count_prompts))
    domain = WebDomain(env, models, seed=seed, max_attempts=config.max_attempts,
                       difficulty=WebDifficulty.of(router.policy),
                       call_overhead=CALL_OVERHEAD if config.count_prompts else 0,
                       expand=config.expand)
    ctx = AgentContext(domain, router, budget, EpisodeRecorder(store, episode_id),
                       config.horizon)
    token = current_episode.set(episode_id)
    final: AgentState = saved or {}
    try:
        if not (saved and saved.get("done")):  # a finished graph is only closed
            final = await run_graph(ctx, init, thread_id=thread, max_steps=config.max_steps,
                                    checkpointer=checkpointer)
    except (KeyboardInterrupt, asyncio.CancelledError):
        out.status = "interrupted"
        raise
    except Exception as e:  # a model or task failure: keep the record, fail the episode
        out.status, out.error = "failed", f"{type(e).__name__}: {e}"
    finally:
        current_episode.reset(token)
        out.reward = float(final.get("reward", 0.0))
        out.steps = int(final.get("step", 0))
        out.retries = earlier_retries + [{**r, "attempt": earlier + r["attempt"]}
                                         for r in domain.retries]
        out.attempts = earlier + 1 + len(domain.retries)  # a resumed episode: one more
        out.success = out.status == "completed" and out.reward >= config.success_threshold
        out.wall_time_s = time.time() - t0
        store.finish_episode(
            episode_id, status=out.status, reward=out.reward, success=out.success,
            answer=str(final.get("answer", "")), attempts=out.attempts, error=out.error,
            wall_time_s=out.wall_time_s, strategy=config.strategy,
            info={"category": category, "thread_id": thread, "steps": out.steps,
                  "stop_reason": final.get("stop_reason", ""), "retries": out.retries,
                  "budget": budget.summary(), "resumed": init is None,
                  **episode_summary(final)})
    return out


def earlier_attempts(store: TraceStore, episode_id: int) -> tuple[int, list[dict[str, Any]]]:
    """The attempts an interrupted episode already made, and its retries with one more for
    the attempt that resuming it starts (why: the earlier one's status and error)."""
    with Session(store.engine) as s:
        ep = s.get(Episode, episode_id)
    if ep is None:
        raise KeyError(f"no episode {episode_id}")
    n = max(1, int(ep.attempts or 1))
    retries = list((ep.info or {}).get("retries", []))
    why = f"resumed after the episode was {ep.status}" + (f": {ep.error}" if ep.error else "")
    return n, [*retries, {"attempt": n, "at": "resume", "reason": why}]


def episode_summary(state: AgentState) -> dict[str, Any]:
    """Routes taken and the world model's mean accuracy over imagined executed actions."""
    hist = state.get("history", [])
    routes: dict[str, int] = {}
    for h in hist:
        routes[str(h.get("route"))] = routes.get(str(h.get("route")), 0) + 1
    acc = [h["world_model"]["f1"] for h in hist if h.get("world_model")]
    agree = [h["world_model"]["change_agrees"] for h in hist if h.get("world_model")]
    return {"routes": routes, "wm_predictions": len(acc),
            "wm_f1": sum(acc) / len(acc) if acc else None,
            "wm_change_agreement": sum(agree) / len(agree) if agree else None}


async def run_web_agent(store: TraceStore, *, tasks: Sequence[str], seeds: Sequence[int],
                        clients: AgentClients, config: WebAgentConfig, suite: str = "",
                        parallel: int = 1, browser_config: BrowserConfig | None = None,
                        checkpoint_db: str | None = None, name: str = "",
                        on_episode: Callable[[EpisodeOutcome], None] | None = None,
                        resume: tuple[int, ResumePlan] | None = None,
                        envs: WebEnvs | None = None) -> WebRunResult:
    """`worldplan web --strategy ...`: every task x seed through the graph, traced.
    `resume=(run_id, plan)` (agent.runs.web_resume) continues an interrupted run: finished
    episodes are kept, interrupted ones continue from their checkpoint in `checkpoint_db`."""
    router = make_router(config.strategy, n=config.n, depth=config.depth,
                         rounds=config.rounds, search=config.search,
                         simulations=config.simulations, policy=config.policy or None,
                         expand=config.expand)
    run_config = {"suite": suite, "tasks": list(tasks), "seeds": list(seeds),
                  "agent": "graph", "parallel": parallel, **asdict(config)}
    urls = sorted({u for c in clients.distinct() for u in c.urls})
    finished = dict(resume[1].finished) if resume else {}
    interrupted = dict(resume[1].interrupted) if resume else {}
    answers = (StoredAnswers.load(store.engine, resume[0], interrupted.values(),
                                  await checkpointed_calls(checkpoint_db, resume[0], interrupted))
               if resume else StoredAnswers({}))
    envs = envs if envs is not None else MiniWoBEnvs(tasks, browser_config, config.max_steps)
    with replaying(clients.distinct(), answers):  # before the clients' first request
        model = await clients.proposer.served_model()  # the run records which model acted
        with store.run_scope(
                resume=resume[0] if resume else None,
                name=name or f"web {suite or 'tasks'} {config.strategy}", kind="web",
                env=suite or "miniwob", strategy=config.strategy,
                model=model, llm_urls=urls, config=run_config) as run_id:
            gate = asyncio.Semaphore(max(1, parallel))
            saver_cm: Any = (AsyncSqliteSaver.from_conn_string(checkpoint_db) if checkpoint_db
                             else contextlib.nullcontext(None))
            with store.recording(run_id, *clients.distinct(), replayed=answers):
                async with envs, saver_cm as saver:

                    async def one(task: str, seed: int) -> EpisodeOutcome:
                        if (task, seed) in finished:
                            return finished[(task, seed)]
                        # the peek world model reads the real next page from a twin page,
                        # and the oracle judge asks the task's oracle on one
                        twin_cm: Any = (envs.episode(task) if needs_twin(config)
                                        else contextlib.nullcontext(None))
                        async with gate, envs.episode(task) as env, twin_cm as twin:
                            res = await run_agent_episode(
                                env, task, seed,
                                make_models(clients, config, seed, twin, task=task),
                                router,
                                store, run_id, config, checkpointer=saver,
                                category=category_of(task),
                                episode_id=interrupted.get((task, seed)))
                        if on_episode is not None:
                            on_episode(res)
                        return res

                    outcomes = await gather_episodes([one(t, s) for t in tasks for s in seeds])
                    restarts = envs.restarts
            summary = store_summary(store, run_id, run_config, outcomes, restarts)
    return WebRunResult(run_id, outcomes, summary, restarts)
