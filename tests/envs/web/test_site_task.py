"""The generic site task: localhost only; validators; served by PageServer."""

from __future__ import annotations

import asyncio
import urllib.request

import pytest

from worldplan.envs.web.core import AsyncWebEnv
from worldplan.envs.web.guard import allowed, origin_of
from worldplan.envs.web.host import WebHost
from worldplan.envs.web.page_server import PageServer
from worldplan.envs.web.tasks.site import SiteTask, answer_is


@pytest.mark.parametrize("url", ["http://example.com/", "file:///etc/passwd",
                                 "ftp://127.0.0.1/", "http://10.0.0.1:8000/"])
def test_site_task_must_be_local(url: str) -> None:
    with pytest.raises(ValueError, match="localhost"):
        SiteTask("x", url, "goal", answer_is("a"))


def test_origin_policy() -> None:
    o = origin_of("http://127.0.0.1:8000/miniwob/a.html")
    assert o == "http://127.0.0.1:8000"
    assert allowed("http://127.0.0.1:8000/flight/x/index.html?q=1", o)
    assert allowed("data:text/html,hi", o) and allowed("about:blank", o)
    assert not allowed("http://127.0.0.1:8001/", o)
    assert not allowed("http://localhost:8000/", o)
    assert not allowed("https://127.0.0.1:8000/", o)
    assert not allowed("http://example.com/", o)


def test_page_server_serves_files(site: PageServer) -> None:
    assert site.base_url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(site.url("other.html"), timeout=10) as r:
        assert b"Other page" in r.read()
        assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.browser
def test_parallel_episodes_have_separate_contexts(web_host: WebHost, site: PageServer) -> None:
    """Two episodes at once in one browser: separate contexts, no shared storage."""

    async def scenario() -> tuple[bool, object, object, list[float]]:
        task = SiteTask("profile", site.url("index.html"), "Save the name Ada.",
                        answer_is("x"))
        a, b = AsyncWebEnv(task, web_host.browser), AsyncWebEnv(task, web_host.browser)
        await asyncio.gather(a.reset(1), b.reset(2))
        await a.page.evaluate("localStorage.setItem('k', 'from a')")
        seen_by_b = await b.page.evaluate("localStorage.getItem('k')")
        seen_by_a = await a.page.evaluate("localStorage.getItem('k')")
        results = await asyncio.gather(a.step('stop("x")'), b.step('stop("y")'))
        same = a.page.context is b.page.context
        await a.close()
        await b.close()
        return same, seen_by_a, seen_by_b, [r[1] for r in results]

    same, seen_by_a, seen_by_b, rewards = web_host.run(scenario(), timeout=120)
    assert not same and seen_by_a == "from a" and seen_by_b is None
    assert rewards == [1.0, 0.0]
