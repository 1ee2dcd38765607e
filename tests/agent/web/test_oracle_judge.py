"""The oracle judge (agent.web.oracle_judge): the task's oracle, asked on a twin page after
the real actions so far, scores the candidate that is its next action 1 and the others 0; in
a WebDreamer episode with no world model it overrides a wrong majority whenever the
proposer offered the oracle's action; a crashed twin or an oracle that cannot plan scores
every candidate 0 (the majority acts). On a real MiniWoB++ page it names the oracle's
first action."""

from __future__ import annotations

import asyncio

import pytest

import worldplan.agent.web.oracle_judge as oracle_judge
from tests.fakes.web import PLAN, FakeWebEnv, ScriptedWebLLM
from worldplan.agent.runs.web_agent import run_agent_episode
from worldplan.agent.web.config import AgentClients, WebAgentConfig, make_models
from worldplan.agent.web.oracle_judge import OracleJudge
from worldplan.agent.web.router import WebRouter
from worldplan.envs.web.actions import canonical_action
from worldplan.envs.web.core import AsyncWebEnv, EnvConfig
from worldplan.envs.web.host import WebHost
from worldplan.envs.web.observation import WebObservation
from worldplan.envs.web.oracle_kit import OracleUnavailable
from worldplan.envs.web.oracles import cheat
from worldplan.envs.web.tasks.registry import make_task
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.web.prompts import UNCHANGED


def fake_oracle(task: str, obs: WebObservation, memo: dict | None = None) -> list[str]:
    """FakeWebEnv's form: the PLAN actions the page does not show done yet."""
    done = ('textbox "Name" [ref=e2]: Bob' in obs.axtree) + ("[checked]" in obs.axtree)
    return PLAN[done:]


@pytest.fixture
def oracle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oracle_judge, "cheat", fake_oracle)


def test_the_oracles_next_action_scores_one(oracle: None) -> None:
    twin = FakeWebEnv()
    judge = OracleJudge(twin, seed=3, task="fake-form")
    j = asyncio.run(judge.score("g", "page", [[("check( 'e4' )", "")], [("click('e3')", "")]],
                                history=["fill('e2', 'Bob')" + UNCHANGED]))
    assert j.samples == [1.0, 0.0] and j.generations == 0 and j.completion_tokens == 0
    assert twin.steps == ["fill('e2', 'Bob')"] and twin.resets == 1
    asyncio.run(judge.score("g", "page", [[("click('e3')", "")]],
                            history=["fill('e2', 'Bob')"]))
    assert twin.resets == 1  # the step's plan is kept for its other candidates
    crashed = OracleJudge(FakeWebEnv(crash_at_step=1), seed=3, task="fake-form")
    j = asyncio.run(crashed.score("g", "page", [[(PLAN[1], "")]], history=[PLAN[0]]))
    assert j.samples == [0.0]


def test_it_follows_the_oracles_own_plan_and_replans_once_the_episode_leaves_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-shot oracle that plans the whole form whatever the page shows (as the radio
    oracles do): asked afresh after its first action it would repeat it."""
    asked: list[str] = []

    def whole_plan(task: str, obs: WebObservation, memo: dict | None = None) -> list[str]:
        asked.append(obs.axtree)
        return list(PLAN)

    monkeypatch.setattr(oracle_judge, "cheat", whole_plan)
    judge = OracleJudge(FakeWebEnv(), seed=0, task="fake-form")
    assert asyncio.run(judge.next_action([PLAN[0], PLAN[1]])) == canonical_action(PLAN[2])
    assert len(asked) == 1  # planned once, from the first page
    left = asyncio.run(judge.next_action(["noop()"]))  # it left the plan: planned afresh
    assert left == canonical_action(PLAN[0])
    assert len(asked) == 3


def test_an_oracle_that_cannot_plan_scores_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(task: str, obs: WebObservation, memo: dict | None = None) -> list[str]:
        raise OracleUnavailable("no such element")

    monkeypatch.setattr(oracle_judge, "cheat", unavailable)
    j = asyncio.run(OracleJudge(FakeWebEnv(), 0, "fake-form").score("g", "p", [[(PLAN[0], "")]]))
    assert j.samples == [0.0]


def test_an_episode_takes_the_oracles_action_over_the_majority(oracle: None,
                                                               store: TraceStore) -> None:
    def propose(done: int, prompt: str, n: int) -> list[str]:
        # greedy and one sample: a noop (the majority); one sample: the right action
        return ["noop()"] if n == 1 else ["noop()", PLAN[min(done, 2)]][:n]

    llm, env = ScriptedWebLLM(propose=propose), FakeWebEnv()
    client = LLMClient("http://scripted", transport=llm.transport(), retries=0)
    config = WebAgentConfig(strategy="fixed-branch", budget_tokens=20_000, max_steps=6,
                            world_model="none", judge="oracle")
    with pytest.raises(ValueError, match="oracle judge needs"):
        make_models(AgentClients(client, client, client), config, seed=0)
    with pytest.raises(ValueError, match="cannot share a twin"):
        make_models(AgentClients(client, client, client),
                    WebAgentConfig(world_model="peek", judge="oracle"), seed=0,
                    twin=FakeWebEnv(), task="fake-form")
    models = make_models(AgentClients(client, client, client), config, seed=0,
                         twin=FakeWebEnv(), task="fake-form")
    run_id = store.start_run(kind="web", strategy="fixed-branch")
    out = asyncio.run(run_agent_episode(env, "fake-form", 0, models,
                                        WebRouter("fixed-branch", 3, "branch"), store,
                                        run_id, config))
    assert out.success and env.steps == PLAN
    assert set(llm.roles()) == {"proposer"}  # no world model, no verifier asked
    majority = make_models(AgentClients(client, client, client),
                           WebAgentConfig(strategy="majority", budget_tokens=20_000,
                                          max_steps=3), seed=0)
    env2 = FakeWebEnv()
    out2 = asyncio.run(run_agent_episode(env2, "fake-form", 0, majority,
                                         WebRouter("majority", 3, "act"), store, run_id,
                                         WebAgentConfig(strategy="majority", max_steps=3)))
    assert not out2.success and env2.steps == ["noop()"] * 3  # the control: the vote fails


@pytest.mark.browser
@pytest.mark.slow
def test_on_a_real_page_it_names_the_oracles_first_action(web_host: WebHost) -> None:
    task = make_task("click-checkboxes", web_host.base_url)

    async def go() -> tuple[list[str], list[float]]:
        live = AsyncWebEnv(task, web_host.browser, EnvConfig())
        twin = AsyncWebEnv(task, web_host.browser, EnvConfig())
        try:
            obs, _ = await live.reset(3)
            plan = cheat("click-checkboxes", obs)
            j = await OracleJudge(twin, 3, "click-checkboxes").score(
                obs.goal, obs.to_prompt(), [[("noop()", "")], [(plan[0], "")]])
            return plan, j.samples
        finally:
            await live.close()
            await twin.close()

    plan, samples = web_host.run(go(), timeout=120)
    assert plan and canonical_action(plan[0]).startswith(("click(", "check("))
    assert samples == [0.0, 1.0]
