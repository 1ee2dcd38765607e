"""Clickable words in running text are links in the observation (envs.web.inline_links):
on click-link, whose links are styled spans, the goal's word has a ref and clicking it by
that ref solves the task; an ordinary page gains no links."""

from __future__ import annotations

import re

import pytest

from worldplan.envs.web.core import AsyncWebEnv
from worldplan.envs.web.host import WebHost
from worldplan.envs.web.tasks.registry import make_task


@pytest.mark.browser
@pytest.mark.parametrize("seed", [0, 1])
def test_a_link_span_gets_a_ref_and_clicking_it_solves_click_link(web_host: WebHost,
                                                                     seed: int) -> None:
    async def scenario() -> tuple[str, str, str, float]:
        env = AsyncWebEnv(make_task("click-link", web_host.base_url), web_host.browser)
        obs, _ = await env.reset(seed)
        word = re.search(r'link "([^"]+)"', obs.goal)
        assert word, obs.goal
        line = re.search(rf'link "{re.escape(word.group(1))}" \[ref=(e\d+)\]', obs.axtree)
        assert line, obs.axtree
        again = (await env.step("noop()"))[0].axtree  # marking twice changes nothing
        _, reward, *_ = await env.step(f"click('{line.group(1)}')")
        await env.close()
        return obs.axtree, again, line.group(1), reward

    tree, again, ref, reward = web_host.run(scenario(), timeout=120)
    assert tree == again and tree.count("[cursor=pointer]") >= 2
    assert reward == 1.0, (ref, tree)


@pytest.mark.browser
def test_a_page_without_clickable_words_gains_no_link(web_host: WebHost) -> None:
    async def scenario() -> str:
        env = AsyncWebEnv(make_task("click-checkboxes", web_host.base_url), web_host.browser)
        obs, _ = await env.reset(0)
        await env.close()
        return obs.axtree

    assert "link" not in web_host.run(scenario(), timeout=120)
