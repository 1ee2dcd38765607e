"""One page with a trap or a gadget for each feature of the environment (real browser):
settling on the page's own timers, the HTTP cache kept under the guard, off-origin
subresources and target=_blank links refused, a page stuck in a script recycled without
killing the browser, and the raw input actions (coordinates, double-click, typing into the
focused element, key combinations, text, time)."""

from __future__ import annotations

import asyncio
import functools
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from worldplan.envs.web.browser import BrowserManager
from worldplan.envs.web.core import AsyncWebEnv, EnvConfig
from worldplan.envs.web.tasks.site import SiteTask, answer_is

pytestmark = pytest.mark.browser

LAB = """<!doctype html><html><head><title>Lab</title><script src="lib.js"></script></head>
<body>
<button onclick="setTimeout(() => { const b = document.createElement('button');
  b.textContent = 'Appeared'; document.body.appendChild(b); }, 400)">Later</button>
<button onclick="while (true) {}">Hang</button>
<input aria-label="Words">
<button ondblclick="this.textContent = 'Doubled'">Double me</button>
<div style="position:absolute; left:300px; top:200px; width:40px; height:40px"
     onclick="this.textContent = 'Hit'">Spot</div>
<p>Some <span onclick="this.textContent = 'Clicked'">word</span> here.</p>
<img src="http://example.org/x.png" alt="">
<a href="/lab.html" target="_blank">New window</a>
<div id="out">none</div>
<script>document.addEventListener('keydown', (e) => {
  if (e.ctrlKey && e.key === 'b') document.getElementById('out').textContent = 'ctrl-b'; });
</script>
</body></html>"""


class Counting(http.server.SimpleHTTPRequestHandler):
    hits: dict[str, int] = {}

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def do_GET(self) -> None:
        Counting.hits[self.path] = Counting.hits.get(self.path, 0) + 1
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "max-age=3600")
        super().end_headers()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("lab")
    (root / "lab.html").write_text(LAB)
    (root / "lib.js").write_text("window.libLoads = (window.libLoads || 0) + 1;")
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Counting, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/lab.html"
    httpd.shutdown()


def ref_of(axtree: str, text: str) -> str:
    line = next(ln for ln in axtree.splitlines() if text in ln and "[ref=" in ln)
    return line.split("[ref=")[1].split("]")[0]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_settle_waits_for_the_pages_timers(lab: str) -> None:
    async def scenario() -> str:
        async with BrowserManager() as browser:
            env = AsyncWebEnv(SiteTask("lab", lab, "-", answer_is("x")), browser)
            obs, _ = await env.reset(0)
            obs, *_ = await env.step(f'click("{ref_of(obs.axtree, "Later")}")')
            await env.close()
            return obs.axtree

    assert 'button "Appeared"' in run(scenario())  # added by a 400 ms timer


def test_the_http_cache_is_kept_under_the_guard(lab: str) -> None:
    async def scenario() -> int:
        async with BrowserManager() as browser:
            env = AsyncWebEnv(SiteTask("lab", lab, "-", answer_is("x")), browser)
            await env.reset(0)
            before = Counting.hits.get("/lib.js", 0)
            await env.page.goto(lab)  # the same context: lib.js may come from the cache
            await env.close()
            return Counting.hits.get("/lib.js", 0) - before

    assert run(scenario()) == 0


def test_off_origin_subresources_and_new_windows_are_refused(lab: str) -> None:
    async def scenario() -> tuple[list[str], str, int]:
        async with BrowserManager() as browser:
            env = AsyncWebEnv(SiteTask("lab", lab, "-", answer_is("x")), browser)
            obs, info = await env.reset(0)
            obs, *_ = await env.step(f'click("{ref_of(obs.axtree, "New window")}")')
            pages = len(env.page.context.pages)
            await env.close()
            return info["blocked"], obs.last_action_error, pages

    blocked, error, pages = run(scenario())
    assert any("image request to http://example.org/x.png blocked" in b for b in blocked)
    assert "pop-up" in error and "closed" in error and pages == 1


def test_a_stuck_page_is_recycled_and_the_browser_kept(lab: str) -> None:
    async def scenario() -> tuple[dict[str, Any], bool, int, int, float]:
        async with BrowserManager() as browser:
            task = SiteTask("lab", lab, "-", answer_is("x"))
            cfg = EnvConfig(step_timeout_s=4)
            stuck, other = AsyncWebEnv(task, browser, cfg), AsyncWebEnv(task, browser, cfg)
            obs, _ = await stuck.reset(0)
            await other.reset(0)
            generation = browser.generation
            _, _, _, truncated, info = await stuck.step(f'click("{ref_of(obs.axtree, "Hang")}")')
            _, reward, *_ = await other.step('stop("x")')  # the other page still answers
            await stuck.reset(1)  # and the stuck one comes back on a new page
            same = browser.generation == generation
            opened = stuck.tab.opened if hasattr(stuck, "tab") else -1
            await stuck.close()
            await other.close()
            return info, truncated and same, opened, browser.restarts, reward

    info, kept, opened, restarts, reward = run(scenario())
    assert info["browser_crashed"] and reward == 1.0
    assert kept and restarts == 0  # the browser was not killed
    assert info["hung"] == "page" and "page hung" in info["crash"] and opened == 2


def test_raw_input_actions(lab: str) -> None:
    async def scenario() -> list[str]:
        async with BrowserManager() as browser:
            env = AsyncWebEnv(SiteTask("lab", lab, "-", answer_is("x")), browser,
                              EnvConfig(boxes=True))
            obs, _ = await env.reset(0)
            assert "[box=" in obs.axtree
            trees = []
            for action in (f'dblclick("{ref_of(obs.axtree, "Double me")}")',
                           "click_at(320, 220)", 'click_text("word")',
                           f'click("{ref_of(obs.axtree, "Words")}")', 'type("hello")',
                           'key("Control+b")', "wait(50)"):
                obs, _, _, _, info = await env.step(action)
                assert info["action_ok"], (action, obs.last_action_error)
                trees.append(obs.axtree)
            await env.close()
            return trees

    trees = run(scenario())
    assert 'button "Doubled"' in trees[0]
    assert "Hit" in trees[1]
    assert "Clicked" in trees[2]
    assert 'textbox "Words" [active]' in trees[4] and "hello" in trees[4]
    assert "ctrl-b" in trees[5]
