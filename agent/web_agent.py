"""Web episodes through the agent graph: the web domain, one episode, and a whole run.

`WebDomain` is the graph's view of a web task: the environment (an `envs.web.core.
AsyncWebEnv`, or anything with its `reset(seed)` / `step(text)`), the proposer, the world
model and the progress verifier. `act` executes the proposals' majority action; `revise`
and `branch` search over imagined states (agent.graph_search). After every executed
action that was imagined, the prediction is scored against the real next page
(worldmodel.world_model.prediction_accuracy) and stored in the step's info.

Crashes and resumes: the domain remembers the actions it executed; before each real step it
checks them against the state's `actions` and, if they differ (a new process resuming from
a checkpoint, or a browser that crashed), resets the page with the episode's seed and
replays them (pages are seeded and deterministic). A crashed step is retried this way up to
`max_attempts` times; `retries` lists why, and the episode's info keeps it.

`run_agent_episode` stores one episode (Episode row, and through the graph its Steps,
SearchNodes, and the LLM calls of the three roles), with a LangGraph checkpointer if given;
`run_web_agent` is `worldplan web --strategy ...`: the page server, one browser, a Run, every
task x seed, the per-task summary (the same `WebRunResult` as the scripted agents).
Not handled: screenshots in prompts, parallel candidates in several real browser tabs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agent.difficulty import Estimate, PredictedDifficulty, Signals
from agent.graph import run_graph, saved_state
from agent.graph_control import StepController, StepCosts, make_controller
from agent.graph_mcts import mcts_search
from agent.graph_nodes import AgentContext, StepResult, budget_from_state
from agent.graph_search import (
    STOPPED,
    Imagination,
    Keys,
    Proposer,
    SearchOutcome,
    beam_search,
    node,
    revise_plan,
)
from agent.graph_state import AgentState, Decision, initial_state
from envs.web.browser import BrowserConfig, BrowserManager
from envs.web.core import AsyncWebEnv, EnvConfig
from envs.web.observation import WebObservation
from envs.web.runner import EpisodeOutcome, gather_episodes
from envs.web.server import PageServer
from envs.web.session import WebRunResult, store_summary
from envs.web.tasks.base import WebTask
from envs.web.tasks.registry import category_of, make_task, miniwob_html_dir
from traces.store import TraceStore, current_episode
from worldmodel.accounting import Budget
from worldmodel.client import LLMClient
from worldmodel.world_model import ProgressVerifier, WorldModel, prediction_accuracy

if TYPE_CHECKING:
    from agent.web_resume import ResumePlan


class WebEnvLike(Protocol):
    async def reset(self, seed: int) -> tuple[WebObservation, dict[str, Any]]: ...

    async def step(self, text: str
                   ) -> tuple[WebObservation, float, bool, bool, dict[str, Any]]: ...


@dataclass
class WebModels:
    proposer: Proposer
    world_model: WorldModel
    verifier: ProgressVerifier


def _obs_dict(obs: WebObservation) -> dict[str, Any]:
    return {k: v for k, v in obs.as_dict().items() if k != "screenshot"}


class WebDomain:
    kind = "web"
    needs_candidates = True

    def __init__(self, env: WebEnvLike, models: WebModels, *, seed: int,
                 max_attempts: int = 3) -> None:
        self.env, self.models, self.seed = env, models, seed
        self.max_attempts = max_attempts
        self.costs = StepCosts(models.proposer.max_tokens, models.world_model.max_tokens,
                               models.verifier.tokens_per_sample)
        self.executed: list[str] | None = None  # actions done on the live page since reset
        self.retries: list[dict[str, Any]] = []

    async def start(self, state: AgentState) -> dict[str, Any]:
        obs, info = await self.env.reset(self.seed)
        self.executed = []
        return {"observation": _obs_dict(obs), "goal": obs.goal,
                "info": {"reset": {k: v for k, v in info.items() if k != "blocked"}}}

    def observation_text(self, observation: dict[str, Any]) -> str:
        return WebObservation.from_dict(observation).to_prompt()

    async def propose(self, state: AgentState, n: int, budget: Budget,
                      keys: Keys) -> list[dict[str, Any]]:
        obs = self.observation_text(state["observation"])
        try:
            props = await self.models.proposer.propose(obs, state["actions"], n, budget=budget)
        except STOPPED:
            return []
        return [node(keys("c"), None, "proposal", p.raw, step=keys.step, tokens=p.tokens,
                     answer=p.action or "", info={"error": p.error}) for p in props]

    def estimate(self, goal: str, candidates: list[dict[str, Any]]) -> Estimate:
        """Predicted difficulty from the proposals' agreement (no verifier scores yet)."""
        signals = Signals(scores=[None] * len(candidates),
                          answers=[c["answer"] or None for c in candidates],
                          tokens=[int(c["tokens"]) for c in candidates],
                          truncated=[False] * len(candidates))
        return PredictedDifficulty().estimate(goal, signals)

    async def search(self, route: str, state: AgentState, decision: Decision,
                     budget: Budget, keys: Keys) -> SearchOutcome:
        cands = state["candidates"]
        best = majority_action(cands)
        if route == "act" or best is None:
            return self._act(cands, best)
        p = decision.get("params", {})
        im = Imagination(self.models.world_model, self.models.verifier,
                         self.models.proposer, state.get("goal", ""),
                         self.observation_text(state["observation"]), list(state["actions"]))
        root_key = next(c["key"] for c in cands if c["answer"] == best)
        if route == "revise":
            out = await revise_plan(im, (root_key, best), keys, budget,
                                    rounds=p.get("rounds", 2), samples=p.get("samples", 1))
        else:
            roots, seen = [], set()
            for c in cands:  # distinct readable actions, most frequent first
                if c["answer"] and c["answer"] not in seen:
                    seen.add(c["answer"])
                    roots.append((c["key"], c["answer"]))
            roots.sort(key=lambda r: r[1] != best)
            if p.get("simulations", 0) > 0:
                out = await mcts_search(im, roots[: p.get("width", 2)], keys, budget,
                                        simulations=p["simulations"],
                                        depth=max(2, p.get("depth", 2)),
                                        width=p.get("width", 2), samples=p.get("samples", 1))
            else:
                out = await beam_search(im, roots[: p.get("width", 2)], keys, budget,
                                        depth=p.get("depth", 1), beam=p.get("beam", 2),
                                        width=p.get("width", 2), samples=p.get("samples", 1))
        if out.action is None:  # nothing imagined (budget): act on the proposals
            fallback = self._act(cands, best)
            fallback.nodes, fallback.stop_reason = out.nodes, out.stop_reason
            return fallback
        return out

    @staticmethod
    def _act(cands: list[dict[str, Any]], best: str | None) -> SearchOutcome:
        if best is not None:
            key = next(c["key"] for c in cands if c["answer"] == best)
            return SearchOutcome(best, key, None, "", [])
        if cands:  # nothing readable: send the first line, the env explains the error
            raw = (cands[0]["text"].strip().splitlines() or [""])[0][:200]
            return SearchOutcome(raw, cands[0]["key"], None, "", [])
        return SearchOutcome("noop()", None, None, "", [])

    async def _sync(self, actions: Sequence[str]) -> None:
        """Bring the live page to the state after `actions` (reset + replay if needed)."""
        if self.executed is not None and self.executed == list(actions):
            return
        await self.env.reset(self.seed)
        self.executed = []
        for a in actions:
            await self.env.step(a)
            self.executed.append(a)

    async def execute(self, state: AgentState, action: str, prediction: str) -> StepResult:
        before = str(state["observation"].get("axtree", ""))
        for attempt in range(1, self.max_attempts + 1):
            await self._sync(state["actions"])
            obs, reward, term, trunc, info = await self.env.step(action)
            if not info.get("browser_crashed"):
                break
            self.executed = None
            self.retries.append({"attempt": attempt, "at": f"step {state['step']}",
                                 "reason": info.get("crash", "")})
        else:
            info = {**info, "retries_exhausted": True}
        if self.executed is not None:
            self.executed.append(action)
        if prediction:
            info = {**info, "world_model": asdict(prediction_accuracy(prediction, before,
                                                                      obs.axtree))}
        answer = action.split("(", 1)[1].rstrip(")").strip("\"'") if (
            action.startswith("stop(")) else ""
        return StepResult(_obs_dict(obs), float(reward), bool(term), bool(trunc),
                          obs.last_action_error, answer,
                          {k: v for k, v in info.items() if k != "blocked"})


def majority_action(cands: list[dict[str, Any]]) -> str | None:
    counts: dict[str, int] = {}
    for c in cands:
        if c["answer"]:
            counts[c["answer"]] = counts.get(c["answer"], 0) + 1
    return max(counts, key=lambda a: counts[a]) if counts else None


@dataclass
class WebAgentConfig:
    strategy: str = "reactive"
    budget_tokens: int | None = 400  # generated tokens per episode, all roles (tokens)
    budget_generations: int | None = None
    max_steps: int = 8
    n: int = 3  # proposals per step (best-of-n, search, compute-optimal)
    depth: int = 2  # search depth (search)
    rounds: int = 2  # revisions per step (revise)
    search: str = "beam"  # tree search of the branch route: beam | mcts
    simulations: int = 4  # MCTS simulations per branching step (search="mcts")
    policy: str = ""  # compute-optimal: web policy file ("": the bundled prior)
    proposer_tokens: int = 24  # per proposed action (tokens)
    world_model_tokens: int = 40  # per predicted change (tokens)
    temperature: float = 0.8
    verifier_mode: str = "p_yes"  # p_yes | label
    horizon: int = 3  # steps the tokens left are shared over (graph_control.step_allowance)
    max_attempts: int = 3  # attempts of a step whose browser crashed
    success_threshold: float = 1.0


@dataclass
class AgentClients:
    """The three roles' clients (the same object for a single server)."""

    proposer: LLMClient
    world_model: LLMClient
    verifier: LLMClient

    def distinct(self) -> list[LLMClient]:
        out: list[LLMClient] = []
        for c in (self.proposer, self.world_model, self.verifier):
            if all(c is not o for o in out):
                out.append(c)
        return out


def make_models(clients: AgentClients, config: WebAgentConfig, seed: int) -> WebModels:
    return WebModels(
        Proposer(clients.proposer, config.proposer_tokens, config.temperature, seed),
        WorldModel(clients.world_model, config.world_model_tokens, seed=seed),
        ProgressVerifier(clients.verifier, config.verifier_mode))


def thread_id_of(run_id: int, task: str, seed: int) -> str:
    return f"web-run{run_id}-{task}-seed{seed}"


async def run_agent_episode(env: WebEnvLike, task: str, seed: int, models: WebModels,
                            controller: StepController, store: TraceStore, run_id: int,
                            config: WebAgentConfig, *,
                            checkpointer: BaseCheckpointSaver[Any] | None = None,
                            episode_id: int | None = None, category: str = ""
                            ) -> EpisodeOutcome:
    """One episode through the graph; `episode_id` continues an interrupted episode from
    its checkpoint (same run, task and seed)."""
    t0 = time.time()
    thread = thread_id_of(run_id, task, seed)
    saved = await saved_state(checkpointer, thread) if checkpointer is not None else None
    if episode_id is None:
        episode_id = store.start_episode(run_id, env="web", task_id=task, seed=seed,
                                         strategy=config.strategy,
                                         info={"category": category, "thread_id": thread})
    out = EpisodeOutcome(task, seed, episode_id)
    init = None if saved and not saved.get("done") else initial_state(
        kind="web", task=task, seed=seed, max_steps=config.max_steps)
    budget = (budget_from_state(saved, config.budget_generations, config.budget_tokens)
              if init is None and saved else Budget(config.budget_generations,
                                                    config.budget_tokens))
    domain = WebDomain(env, models, seed=seed, max_attempts=config.max_attempts)
    ctx = AgentContext(domain, controller, budget, store, episode_id, config.horizon)
    token = current_episode.set(episode_id)
    final: AgentState = saved or {}
    try:
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
        out.retries = domain.retries
        out.attempts = 1 + len(domain.retries)
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
                        resume: tuple[int, ResumePlan] | None = None) -> WebRunResult:
    """`worldplan web --strategy ...`: every task x seed through the graph, traced.
    `resume=(run_id, plan)` (agent.web_resume) continues an interrupted run: finished
    episodes are kept, interrupted ones continue from their checkpoint in `checkpoint_db`."""
    controller = make_controller(config.strategy, n=config.n, depth=config.depth,
                                 rounds=config.rounds, search=config.search,
                                 simulations=config.simulations, policy=config.policy or None)
    run_config = {"suite": suite, "tasks": list(tasks), "seeds": list(seeds),
                  "agent": "graph", "parallel": parallel, **asdict(config)}
    urls = sorted({u for c in clients.distinct() for u in c.urls})
    model = await clients.proposer.served_model()  # the run records which model acted
    finished = dict(resume[1].finished) if resume else {}
    interrupted = dict(resume[1].interrupted) if resume else {}
    with PageServer(miniwob_html_dir()) as server, store.run_scope(
            resume=resume[0] if resume else None,
            name=name or f"web {suite or 'tasks'} {config.strategy}", kind="web",
            env=suite or "miniwob", strategy=config.strategy,
            model=model, llm_urls=urls, config=run_config) as run_id:
        observer = store.observer(run_id)
        for c in clients.distinct():
            c.observers.append(observer)
        task_objs = [make_task(t, server.base_url) for t in tasks]
        gate = asyncio.Semaphore(max(1, parallel))
        saver_cm: Any = (AsyncSqliteSaver.from_conn_string(checkpoint_db) if checkpoint_db
                         else contextlib.nullcontext(None))
        try:
            async with BrowserManager(browser_config) as browser, saver_cm as saver:

                async def one(task: WebTask, seed: int) -> EpisodeOutcome:
                    if (task.name, seed) in finished:
                        return finished[(task.name, seed)]
                    async with gate:
                        env = AsyncWebEnv(task, browser, EnvConfig(max_steps=config.max_steps))
                        try:
                            res = await run_agent_episode(
                                env, task.name, seed, make_models(clients, config, seed),
                                controller, store, run_id, config, checkpointer=saver,
                                category=category_of(task.name),
                                episode_id=interrupted.get((task.name, seed)))
                        finally:
                            await env.close()
                    if on_episode is not None:
                        on_episode(res)
                    return res

                outcomes = await gather_episodes([one(t, s) for t in task_objs
                                                  for s in seeds])
                restarts = browser.restarts
        finally:
            for c in clients.distinct():
                c.observers.remove(observer)
        summary = store_summary(store, run_id, run_config, outcomes, restarts)
    return WebRunResult(run_id, outcomes, summary, restarts)


def connect_clients(llm_url: Sequence[str] | None, world_model_url: Sequence[str] | None = None,
                    verifier_url: Sequence[str] | None = None, *,
                    model: str | None = None) -> AgentClients:
    """Clients of the three roles: `llm_url` for all, unless a role has its own URL."""
    from worldmodel.connect import connect

    proposer = connect(llm_url or None, model=model)
    world = connect(world_model_url) if world_model_url else proposer
    judge = connect(verifier_url) if verifier_url else proposer
    return AgentClients(proposer, world, judge)
