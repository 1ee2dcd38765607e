"""A MiniWoB++ environment keeps one page across episodes (real browser): reseeded in place,
the same seed gives what a fresh page gives, and worn-out pages are replaced."""

from __future__ import annotations

from typing import Any

import pytest

from worldplan.agent.web.scripted import RandomAgent
from worldplan.envs.web.core import AsyncWebEnv, EnvConfig
from worldplan.envs.web.host import WebHost
from worldplan.envs.web.observation import WebObservation
from worldplan.envs.web.tab import HEAP_CHECK_EVERY, TabLimits
from worldplan.envs.web.tasks.registry import make_task

pytestmark = pytest.mark.browser

# pages that keep state between episodes a naive reseed would leak: typed text, a live
# region's messages, a colour picker's load-time value, a deadline timer, many refs
LEAKY = ["focus-text-2", "scroll-text", "use-autocomplete", "use-colorwheel", "moving-items",
         "click-checkboxes", "email-inbox", "login-user"]


async def _play(env: AsyncWebEnv, seed: int, agent: Any, steps: int
                ) -> tuple[WebObservation, float, dict[str, Any]]:
    obs, _ = await env.reset(seed)
    reward, info = 0.0, {}
    for _ in range(steps):
        obs, reward, term, trunc, info = await env.step(agent.act(obs))
        if term or trunc:
            break
    return obs, reward, info


def test_episodes_reuse_one_page(web_host: WebHost) -> None:
    async def scenario() -> tuple[int, list[Any], list[str]]:
        env = AsyncWebEnv(make_task("click-checkboxes", web_host.base_url), web_host.browser)
        marks, first_refs = [], []
        for seed in range(5):
            obs, _ = await env.reset(seed)
            marks.append(await env.page.evaluate("() => window.__mark || null"))
            await env.page.evaluate("() => { window.__mark = 'kept'; }")
            first_refs.append(obs.axtree.split("[ref=")[1].split("]")[0])
        opened = env.tab.opened
        await env.close()
        return opened, marks, first_refs

    opened, marks, first_refs = web_host.run(scenario(), timeout=120)
    assert opened == 1 and marks == [None, "kept", "kept", "kept", "kept"]
    assert first_refs == ["e1"] * 5  # references restart in every episode


@pytest.mark.parametrize("task", LEAKY)
def test_a_reseeded_page_shows_what_a_fresh_page_shows(web_host: WebHost, task: str) -> None:
    async def scenario() -> tuple[WebObservation, WebObservation]:
        used = AsyncWebEnv(make_task(task, web_host.base_url), web_host.browser)
        await _play(used, 3, RandomAgent(seed=1), 4)  # type, click, tick... then reseed
        again, _ = await used.reset(8)
        fresh = AsyncWebEnv(make_task(task, web_host.base_url), web_host.browser)
        first, _ = await fresh.reset(8)
        await used.close()
        await fresh.close()
        return again, first

    again, first = web_host.run(scenario(), timeout=120)
    assert (again.goal, again.axtree) == (first.goal, first.axtree)


def test_worn_out_pages_are_replaced(web_host: WebHost) -> None:
    async def scenario(limits: TabLimits, resets: int) -> int:
        env = AsyncWebEnv(make_task("click-test", web_host.base_url), web_host.browser,
                          EnvConfig(limits=limits))
        for seed in range(resets):
            await env.reset(seed)
        opened = env.tab.opened
        await env.close()
        return opened

    assert web_host.run(scenario(TabLimits(page_episodes=2), 5), timeout=120) == 3
    heavy = TabLimits(max_heap_mib=0.001)  # every heap is too big: replaced at each check
    assert web_host.run(scenario(heavy, HEAP_CHECK_EVERY + 1), timeout=120) == 2
