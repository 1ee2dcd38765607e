"""The diagnostic world models. Peek (agent.web.peek_world_model): the real next page from a
twin page, replaying the real and imagined actions; a whole planning episode with it sends
no world-model request and every executed prediction is exact. None
(worldmodel.web.world_model.NoWorldModel): the verifier judges the actions alone."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlmodel import Session, select

from tests.fakes.web import PLAN, FakeWebEnv, ScriptedWebLLM, good_judge
from worldplan.agent.runs.web_agent import run_agent_episode
from worldplan.agent.web.config import AgentClients, WebAgentConfig, make_models
from worldplan.agent.web.peek_world_model import PeekingWorldModel
from worldplan.agent.web.router import WebRouter
from worldplan.envs.web.core import AsyncWebEnv, EnvConfig
from worldplan.envs.web.host import WebHost
from worldplan.envs.web.tasks.registry import make_task
from worldplan.traces.schema import Step
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.web.action_grammar import legal_actions, page_tree
from worldplan.worldmodel.web.page_diff import format_change, real_change
from worldplan.worldmodel.web.prompts import UNCHANGED
from worldplan.worldmodel.web.world_model import Prediction


def predict(twin: FakeWebEnv, action: str, **kw: Any) -> list[Prediction]:
    return asyncio.run(PeekingWorldModel(twin, seed=7).predict("page", action, **kw))


def test_the_real_change_after_replaying_the_real_actions() -> None:
    twin = FakeWebEnv()
    [p] = predict(twin, "check('e4')", history=["fill('e2', 'Bob')" + UNCHANGED])
    assert twin.resets == 1 and twin.steps == ["fill('e2', 'Bob')", "check('e4')"]
    assert p.text == ('~ checkbox "Agree" [ref=e4] => checkbox "Agree" [checked] [ref=e4]')
    assert p.tokens == 0 and not p.error
    assert 'textbox "Name" [ref=e2]: Bob' in p.page and "[checked]" in p.page


def test_imagined_actions_are_replayed_after_the_real_ones() -> None:
    twin = FakeWebEnv()
    preds = predict(twin, "click('e3')", history=["fill('e2', 'Bob')"],
                    imagined=[("check('e4')", "whatever the model said")], n=3)
    assert twin.steps == PLAN and len(preds) == 3
    assert all(p.text == preds[0].text for p in preds)


def test_an_episode_that_ended_before_the_action_changes_nothing() -> None:
    twin = FakeWebEnv()
    [p] = predict(twin, "fill('e2', 'Bob')", history=["click('e3')"])
    assert twin.steps == ["click('e3')"]  # the imagined action was not taken
    assert p.text == "nothing changes" and not p.error


def test_a_crashed_twin_is_a_wrong_prediction_not_a_crash() -> None:
    [p] = predict(FakeWebEnv(crash_at_step=1), "check('e4')")
    assert p.error.startswith("the twin page crashed") and p.page == ""


def test_peek_needs_a_twin_and_unknown_world_models_are_refused() -> None:
    clients = AgentClients(*[LLMClient("http://unused")] * 3)
    with pytest.raises(ValueError, match="twin page"):
        make_models(clients, WebAgentConfig(world_model="peek"), seed=0)
    with pytest.raises(ValueError, match="unknown world model"):
        make_models(clients, WebAgentConfig(world_model="oracle"), seed=0)


def test_a_planning_episode_with_the_peek_world_model(store: TraceStore) -> None:
    llm, env, twin = ScriptedWebLLM(), FakeWebEnv(), FakeWebEnv()
    client = LLMClient("http://scripted", transport=llm.transport(), retries=0)
    config = WebAgentConfig(strategy="fixed-branch", budget_tokens=20_000, max_steps=6,
                            world_model="peek")
    run_id = store.start_run(kind="web", strategy="fixed-branch")
    models = make_models(AgentClients(client, client, client), config, seed=0, twin=twin)
    out = asyncio.run(run_agent_episode(env, "fake-form", 0, models,
                                        WebRouter("fixed-branch", 2, "branch"), store,
                                        run_id, config))
    assert out.success and env.steps == PLAN
    assert "world_model" not in llm.roles() and "verifier" in llm.roles()
    assert twin.resets >= 3  # every imagined action was read off the twin
    with Session(store.engine) as s:
        steps = list(s.exec(select(Step).where(Step.episode_id == out.episode_id)))
    scored = [st.info["world_model"] for st in steps if st.info.get("world_model")]
    assert scored and all(w["exact"] for w in scored)


@pytest.mark.browser
@pytest.mark.slow
def test_peek_reads_the_page_the_real_browser_shows(web_host: WebHost) -> None:
    """On a real MiniWoB++ page: after one real action, the peek model's answer for the next
    one equals the change the live page then shows (pages are seeded and deterministic)."""
    task = make_task("click-checkboxes", web_host.base_url)

    async def go() -> tuple[str, str, str]:
        live = AsyncWebEnv(task, web_host.browser, EnvConfig())
        twin = AsyncWebEnv(task, web_host.browser, EnvConfig())
        try:
            obs, _ = await live.reset(3)
            boxes = legal_actions(obs.axtree).check
            assert len(boxes) >= 2, obs.axtree
            first, second = f"check('{boxes[0]}')", f"check('{boxes[1]}')"
            after_first = (await live.step(first))[0].to_prompt()
            [p] = await PeekingWorldModel(twin, seed=3).predict(after_first, second,
                                                                history=[first])
            before = (await live.step("noop()"))[0].axtree
            real = (await live.step(second))[0].axtree
            return p.text, format_change(real_change(before, real)), p.page
        finally:
            await live.close()
            await twin.close()

    predicted, real, page = web_host.run(go(), timeout=120)
    assert predicted == real and "[checked]" in predicted
    assert page_tree(page).count("[checked]") == 2  # the imagined page: both boxes ticked


def test_with_no_world_model_the_verifier_judges_actions_alone(store: TraceStore) -> None:
    seen: list[str] = []

    def judge(prompt: str) -> float:
        seen.append(prompt)
        return good_judge(prompt)

    llm, env = ScriptedWebLLM(judge=judge), FakeWebEnv()
    client = LLMClient("http://scripted", transport=llm.transport(), retries=0)
    config = WebAgentConfig(strategy="fixed-branch", budget_tokens=20_000, max_steps=6,
                            world_model="none")
    run_id = store.start_run(kind="web", strategy="fixed-branch")
    models = make_models(AgentClients(client, client, client), config, seed=0)
    out = asyncio.run(run_agent_episode(env, "fake-form", 0, models,
                                        WebRouter("fixed-branch", 2, "branch"), store,
                                        run_id, config))
    assert out.success and env.steps == PLAN
    assert "world_model" not in llm.roles() and seen
    assert all(re.search(r"Imagined: \S+\(.*?\) -> \n", p) for p in seen)  # nothing predicted
