"""The task's time limit counts page time, never the agent's thinking (real browser):
MiniWoB++'s own page timer ended a slow agent's episode with reward -1."""

from __future__ import annotations

import asyncio

import pytest

from worldplan.agent.web.scripted import OracleAgent
from worldplan.envs.web.core import AsyncWebEnv
from worldplan.envs.web.host import WebHost
from worldplan.envs.web.tasks.miniwob import MiniWoBTask

pytestmark = pytest.mark.browser


def test_the_page_timer_does_not_end_a_thinking_agents_episode(web_host: WebHost) -> None:
    async def scenario() -> tuple[float, str]:
        task = MiniWoBTask("click-test", web_host.base_url, episode_time_s=1.0)
        env = AsyncWebEnv(task, web_host.browser)
        obs, _ = await env.reset(0)
        await asyncio.sleep(1.5)  # the agent thinks longer than the task's time limit
        _, reward, _, _, info = await env.step(OracleAgent("click-test").act(obs))
        await env.close()
        return reward, info["reason"]

    reward, reason = web_host.run(scenario(), timeout=120)
    assert (reward, reason) == (1.0, "")


def test_the_time_limit_counts_page_time(web_host: WebHost) -> None:
    async def scenario() -> tuple[float, bool, str]:
        task = MiniWoBTask("click-test", web_host.base_url, episode_time_s=0.2)
        env = AsyncWebEnv(task, web_host.browser)
        await env.reset(0)
        _, reward, terminated, _, info = await env.step("wait(400)")  # page time passes
        await env.close()
        return reward, terminated, info["reason"]

    assert web_host.run(scenario(), timeout=120) == (-1.0, True, "timed out")
