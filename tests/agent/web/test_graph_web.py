"""The agent graph on a scripted web page with a scripted model (control flow only): routes
follow the controller, budgets hold, the trace is complete, and checkpoints resume."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from sqlmodel import Session, select

from tests.fakes.web import PLAN, FakeWebEnv, Killed, ScriptedWebLLM
from worldplan.agent.runs.web_agent import run_agent_episode
from worldplan.agent.runs.web_episodes import EpisodeOutcome
from worldplan.agent.web.config import AgentClients, WebAgentConfig, make_models
from worldplan.agent.web.router import WebRouter, make_router
from worldplan.traces.schema import Episode, LLMCall, SearchNode, Step
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient


def run_episode(llm: ScriptedWebLLM, env: FakeWebEnv, controller: WebRouter,
                store: TraceStore, *, budget: int | None = 20_000, max_steps: int = 6,
                run_id: int | None = None, checkpoint: Path | None = None,
                episode_id: int | None = None, **cfg: Any) -> tuple[EpisodeOutcome, int]:
    client = LLMClient("http://scripted", transport=llm.transport(), retries=0)
    config = WebAgentConfig(strategy=controller.strategy, budget_tokens=budget,
                            max_steps=max_steps, **cfg)
    run_id = run_id or store.start_run(kind="web", strategy=controller.strategy)
    client.observers.append(store.observer(run_id))
    models = make_models(AgentClients(client, client, client), config, seed=0)

    async def go() -> EpisodeOutcome:
        if checkpoint is None:
            return await run_agent_episode(env, "fake-form", 0, models, controller, store,
                                           run_id, config, episode_id=episode_id)
        async with AsyncSqliteSaver.from_conn_string(str(checkpoint)) as saver:
            return await run_agent_episode(env, "fake-form", 0, models, controller, store,
                                           run_id, config, checkpointer=saver,
                                           episode_id=episode_id)

    return asyncio.run(go()), run_id


def rows(store: TraceStore, model: Any, episode_id: int) -> list[Any]:
    with Session(store.engine) as s:
        return list(s.exec(select(model).where(model.episode_id == episode_id)
                           .order_by(model.id)))


@pytest.mark.parametrize("route", ["act", "revise", "branch"])
def test_each_route_is_taken_when_the_controller_says_so(route: str,
                                                         store: TraceStore) -> None:
    llm, env = ScriptedWebLLM(), FakeWebEnv()
    out, _ = run_episode(llm, env, WebRouter(f"fixed-{route}", 2, route), store)
    assert out.status == "completed" and out.success and out.reward == 1.0
    assert env.steps == PLAN  # the scripted plan, executed in the real (fake) env
    steps = rows(store, Step, out.episode_id)
    assert [st.decision["route"] for st in steps] == [route] * 3
    roles = set(llm.roles())
    if route == "act":
        assert roles == {"proposer"}
    else:
        assert {"proposer", "world_model", "verifier"} <= roles
        kinds = {n.kind for n in rows(store, SearchNode, out.episode_id)}
        assert "imagined_state" in kinds


def test_compute_optimal_routes_by_difficulty(store: TraceStore) -> None:
    """4 proposals: all agree (bin 1: act), half agree (bin 3: revise), all differ (bin 4:
    branch), with agent.web.difficulty's fixed rule (p = agreement, no verifier term) on the
    bundled prior's cuts."""
    wrong = ["click('e1')", "hover('e2')", "check('e1')"]

    def propose(done: int, prompt: str, n: int) -> list[str]:
        """The greedy reply (n = 1) is right; the 3 sampled ones agree less as done grows."""
        right = PLAN[min(done, 2)]
        if n == 1 or done == 0:
            return [right] * n
        if done == 1:
            return [right, wrong[0], wrong[1]][:n]
        return wrong[:n]

    llm, env = ScriptedWebLLM(propose=propose), FakeWebEnv()
    out, _ = run_episode(llm, env, make_router("compute-optimal", n=4), store)
    steps = rows(store, Step, out.episode_id)
    assert [st.decision["route"] for st in steps] == ["act", "revise", "branch"]
    assert [st.decision["difficulty"] for st in steps] == [1, 3, 4]
    assert env.steps == PLAN and out.success  # the verifier steered branch to the right one
    branch_step = steps[2]
    assert branch_step.info["chosen_key"].startswith("s2.w")
    wm = steps[1].info["world_model"]  # the revised plan's prediction vs the real page
    assert wm["changed_real"] is True and wm["changed_predicted"] is True
    assert "world_model" not in steps[0].info  # acting imagines nothing


@pytest.mark.parametrize("strategy", ["reactive", "majority", "best-of-n", "revise", "search",
                                      "compute-optimal"])
@pytest.mark.parametrize("budget", [15, 400, 1500])
def test_budget_is_never_exceeded(strategy: str, budget: int, store: TraceStore) -> None:
    """The budget is total tokens: uncached prompt + completion, over every call."""
    def noisy(done: int, prompt: str, n: int) -> list[str]:  # long, disagreeing proposals
        return [f"I think the best is {PLAN[(done + k) % 3]} because it helps"
                for k in range(n)]

    llm = ScriptedWebLLM(propose=noisy)
    out, _ = run_episode(llm, FakeWebEnv(), make_router(strategy, n=3), store,
                         budget=budget)
    served = sum(u["prompt_tokens"] - u["cached_tokens"] + u["completion_tokens"]
                 for u in llm.server.served)
    assert served <= budget
    with Session(store.engine) as s:
        episode = s.get(Episode, out.episode_id)
    assert episode is not None
    assert episode.completion_tokens == sum(t for _, t in llm.served)
    assert episode.info["budget"]["spent_tokens"] == served <= budget
    assert out.status == "completed"
    if not out.success:
        assert episode.info["stop_reason"] in ("budget", "max_steps", "done")


def test_majority_acts_on_the_most_proposed_action(store: TraceStore) -> None:
    def split(done: int, prompt: str, n: int) -> list[str]:
        # the greedy request (n=1) gives a detour, the two sampled ones the plan's step
        return ["click('e1')"] if n == 1 else [PLAN[min(done, 2)]] * n

    llm = ScriptedWebLLM(propose=split)
    out, _ = run_episode(llm, FakeWebEnv(), make_router("majority", n=3), store)
    steps = rows(store, Step, out.episode_id)
    assert out.success and [st.action for st in steps] == PLAN
    assert all(st.decision["route"] == "act" for st in steps)
    assert "world_model" not in llm.roles() and "verifier" not in llm.roles()


def test_trace_holds_every_candidate_imagined_state_score_and_action(
        store: TraceStore) -> None:
    llm, env = ScriptedWebLLM(), FakeWebEnv()
    out, run_id = run_episode(llm, env, make_router("search", n=2, depth=2), store)
    assert out.success
    steps = rows(store, Step, out.episode_id)
    nodes = rows(store, SearchNode, out.episode_id)
    calls = rows(store, LLMCall, out.episode_id)
    by_role: dict[str, int] = {}
    for c in calls:
        by_role[c.role] = by_role.get(c.role, 0) + c.n
    # every proposal the proposer produced is in a node (root proposals and imagined ones;
    # equal actions merge into one node that counts them)
    proposer_samples = by_role["proposer"]
    assert sum(int(n.info.get("count", 1)) for n in nodes
               if n.kind == "proposal") == proposer_samples
    # every world-model sample is an imagined state; each has a verifier score
    imagined = [n for n in nodes if n.kind == "imagined_state"]
    assert len(imagined) == by_role["world_model"]
    assert all(n.score is not None and len(n.scores) == 1 for n in imagined)
    assert by_role["verifier"] == len(imagined)
    keys = {n.key for n in nodes}
    assert all(n.parent_key is None or n.parent_key in keys for n in nodes)
    for st in steps:
        assert {"route", "reason", "difficulty", "budget_left", "allowance", "params"} <= set(
            st.decision)
        chosen = [n for n in nodes if n.step_index == st.index and n.chosen]
        assert len(chosen) == 1 and chosen[0].key == st.info["chosen_key"]
        assert chosen[0].answer == st.action  # the chosen node's action was executed
        assert st.observation.startswith("GOAL: ")
    assert [st.action for st in steps] == PLAN
    assert all(c.run_id == run_id and c.error == "" for c in calls)


def test_interrupted_episode_resumes_from_its_checkpoint(tmp_path: Path,
                                                         store: TraceStore) -> None:
    ckpt = tmp_path / "ckpt.sqlite"
    llm = ScriptedWebLLM()
    env = FakeWebEnv(kill_at_step=2)  # the process "dies" executing the second action
    out, run_id = run_episode(llm, env, make_router("best-of-n", n=2), store,
                              checkpoint=ckpt)
    assert out.status == "failed" and Killed.__name__ in out.error
    before = len(llm.requests)
    assert [st.action for st in rows(store, Step, out.episode_id)] == PLAN[:1]
    # a new process: a fresh page and models, the same run, episode and checkpoint
    llm2, env2 = ScriptedWebLLM(), FakeWebEnv()
    out2, _ = run_episode(llm2, env2, make_router("best-of-n", n=2), store,
                          run_id=run_id, checkpoint=ckpt, episode_id=out.episode_id)
    assert out2.status == "completed" and out2.success
    # the page was rebuilt by replaying the first action, then steps 2 and 3 ran
    assert env2.resets == 1 and env2.steps == PLAN
    # step 2's proposals and search were not redone: only step 3 asked the models
    assert "proposer" in llm2.roles() and len(llm2.requests) < before
    steps = rows(store, Step, out.episode_id)
    assert [st.action for st in steps] == PLAN and [st.index for st in steps] == [0, 1, 2]
    with Session(store.engine) as s:
        ep = s.get(Episode, out.episode_id)
    assert ep is not None and ep.info["resumed"] is True and ep.success


def test_crashed_browser_step_is_replayed_and_recorded(store: TraceStore) -> None:
    env = FakeWebEnv(crash_at_step=2)
    out, _ = run_episode(ScriptedWebLLM(), env, make_router("reactive"), store)
    assert out.success and out.attempts == 2 and out.retries[0]["reason"] == "scripted crash"
    assert env.resets == 2  # the page was reset and the first action replayed


def test_unreadable_proposals_reach_the_env_as_an_error(store: TraceStore) -> None:
    llm = ScriptedWebLLM(propose=lambda done, prompt, n: ["let me think"] * n)
    out, _ = run_episode(llm, FakeWebEnv(), make_router("compute-optimal", n=2), store,
                         max_steps=2)
    steps = rows(store, Step, out.episode_id)
    assert len(steps) == 2 and all(st.decision["route"] == "act" for st in steps)
    assert all("let me think" in st.action and st.error for st in steps)
    assert out.status == "completed" and not out.success


def test_the_run_summary_counts_overrides_of_the_proposal_majority(store: TraceStore) -> None:
    from worldplan.agent.runs.web_summary import run_summary

    def split(done: int, prompt: str, n: int) -> list[str]:
        # greedy: the plan's step; the two samples agree on a detour (the majority)
        return [PLAN[min(done, 2)]] if n == 1 else ["click('e1')"] * n

    def judge(prompt: str) -> float:  # the imagined plan step scores high, the detour low
        return 0.9 if "click('e1')" not in prompt else 0.1

    majority, run_m = run_episode(ScriptedWebLLM(propose=split), FakeWebEnv(),
                                  make_router("majority", n=3), store, max_steps=2)
    s = run_summary(store, run_m).overrides
    assert s["steps_with_choice"] == 2 and s["overridden"] == 0  # it follows the majority
    dreamer, run_d = run_episode(ScriptedWebLLM(propose=split, judge=judge), FakeWebEnv(),
                                 make_router("best-of-n", n=3), store)
    s = run_summary(store, run_d).overrides
    assert dreamer.success and s["overridden"] == s["steps_with_choice"] == 3
    assert s["episodes_overridden"] == 1 and s["success_overridden"] == 1.0
    assert s["success_rest"] is None
