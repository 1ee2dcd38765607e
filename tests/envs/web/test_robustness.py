"""Bad actions, missing references, off-origin navigation, pop-ups, downloads, a killed and a
hung browser: each is handled, and the episode's record in SQLite stays whole."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.async_api import Page
from sqlmodel import Session, col, select

from worldplan.agent.runs.web_episodes import EpisodeOutcome, run_episode
from worldplan.agent.web.scripted import OracleAgent
from worldplan.envs.web.browser import BrowserManager
from worldplan.envs.web.core import EnvConfig
from worldplan.envs.web.host import WebHost
from worldplan.envs.web.observation import WebObservation
from worldplan.envs.web.page_server import PageServer
from worldplan.envs.web.tasks.base import TaskResult
from worldplan.envs.web.tasks.registry import make_task, miniwob_html_dir
from worldplan.envs.web.tasks.site import SiteTask
from worldplan.traces.schema import Episode, Step
from worldplan.traces.store import TraceStore

pytestmark = pytest.mark.browser


class Scripted:
    """Plays fixed action strings; a callable entry is run (e.g. to kill the browser)."""

    def __init__(self, script: list[str | Callable[[], str]]) -> None:
        self.script = list(script)

    def act(self, observation: WebObservation) -> str:
        item = self.script.pop(0) if self.script else 'stop("")'
        return item() if callable(item) else item


def rows(store: TraceStore, ep_id: int) -> tuple[Episode, list[Step]]:
    with Session(store.engine) as s:
        ep = s.get(Episode, ep_id)
        assert ep is not None
        steps = list(s.exec(select(Step).where(Step.episode_id == ep_id).order_by(col(Step.id))))
        return ep, steps


async def _saved(page: Page, answer: str | None) -> TaskResult:
    status = await page.locator("#status").text_content()
    ok = status == "saved:Ada"
    return TaskResult(1.0 if ok else 0.0, ok, status or "")


def test_bad_actions_and_off_origin(web_host: WebHost, site: PageServer, store: TraceStore) -> None:
    host = web_host
    task = SiteTask("profile", site.url("index.html"), "Save the name Ada.", _saved)

    def ref(name: str) -> Callable[[], str]:  # resolved from the live observation
        return lambda: f"__ref__{name}"

    script: list[str | Callable[[], str]] = [
        "click(",  # malformed
        "exec('import os')",  # not allowed
        'click("e999")',  # no such element
        'fill("e1", "x" ',  # malformed again
        ref('link "Example"'),  # off-origin link (example.com)
        ref('button "Redirect"'),  # off-origin JS redirect (localhost vs 127.0.0.1)
        ref('button "Popup"'),  # pop-up
        ref('link "Download"'),  # download
        ref('button "Alert"'),  # dialog
        ref('textbox "Name"'),  # fill Ada
        ref('button "Save"'),
    ]

    class Agent(Scripted):
        def act(self, observation: WebObservation) -> str:
            out = super().act(observation)
            if out.startswith("__ref__"):
                want = out[len("__ref__"):]
                line = next(ln for ln in observation.axtree.splitlines()
                            if want in ln)
                r = line.split("[ref=")[1].split("]")[0]
                if want.startswith("textbox"):
                    return f'fill("{r}", "Ada")'
                return f'click("{r}")'
            return out

    with store.run_scope(kind="web") as run_id:
        out: EpisodeOutcome = host.run(run_episode(
            task, 0, lambda t, s: Agent(script), host.browser, store,
            run_id, env_config=EnvConfig(max_steps=20, action_timeout_ms=1500)), timeout=300)
    assert out.reward == 1.0 and out.success and out.status == "completed"
    ep, steps = rows(store, out.episode_id)
    assert ep.status == "completed" and ep.success and ep.attempts == 1
    assert len(steps) == len(script)
    errors = [st.error for st in steps]
    assert "cannot parse" in errors[0]
    assert "unknown action 'exec'" in errors[1]
    assert "no element with ref e999" in errors[2]
    assert "cannot parse" in errors[3]
    assert "navigation to http://example.com/ blocked (off-origin" in errors[4]
    assert "navigation to http://localhost:" in errors[5] and "blocked" in errors[5]
    assert "pop-up" in errors[6] and "closed" in errors[6]
    assert "download" in errors[7] and "refused" in errors[7]
    assert "alert dialog dismissed" in errors[8]
    assert errors[9] == errors[10] == ""
    # the page never left the task's origin: a local page is shown by its path alone (no
    # port in any prompt), any other origin in full
    for st in steps[4:]:
        assert "\nURL: /" in st.observation and site.base_url not in st.observation
    assert steps[-1].terminated and steps[-1].reward == 1.0


def test_killed_browser_is_restarted_and_episode_retried(store: TraceStore) -> None:
    """SIGKILL Chromium mid-episode: the episode restarts with the same seed and succeeds."""

    async def scenario() -> tuple[EpisodeOutcome, list[int]]:
        pids: list[int] = []
        with PageServer(miniwob_html_dir()) as server:
            async with BrowserManager() as browser:
                task = make_task("enter-text", server.base_url)
                calls = {"n": 0}

                def kill() -> str:
                    assert browser.pid is not None
                    pids.append(browser.pid)
                    os.kill(browser.pid, signal.SIGKILL)
                    return "noop()"

                def agent(name: str, seed: int) -> object:
                    calls["n"] += 1
                    return Scripted([kill]) if calls["n"] == 1 else OracleAgent(name)

                with store.run_scope(kind="web") as run_id:
                    out = await run_episode(task, 3, agent, browser, store, run_id)  # type: ignore[arg-type]
                assert browser.pid is not None
                pids.append(browser.pid)
                assert browser.restarts == 1 and browser.generation == 2
        return out, pids

    out, pids = asyncio.run(scenario())
    assert pids[0] != pids[1]
    assert out.attempts == 2 and out.success and out.reward == 1.0
    ep, steps = rows(store, out.episode_id)
    assert ep.attempts == 2 and ep.status == "completed" and ep.success
    assert ep.info["retries"][0]["attempt"] == 1
    assert "browser crashed" in ep.info["retries"][0]["reason"]
    first = [st for st in steps if st.info["attempt"] == 1]
    second = [st for st in steps if st.info["attempt"] == 2]
    assert len(first) == 1 and first[0].truncated and first[0].info["browser_crashed"]
    assert "browser crashed" in first[0].error
    assert [st.action.split("(")[0] for st in second] == ["fill", "click"]
    assert second[-1].reward == 1.0 and second[-1].terminated
    # the same seed: both attempts saw the same goal
    assert first[0].observation.splitlines()[0] == second[0].observation.splitlines()[0]


@pytest.mark.slow
def test_hung_browser_is_killed_and_episode_retried(store: TraceStore, tmp_path: Path) -> None:
    """SIGSTOP Chromium: the step times out, the browser is killed, the episode retried."""

    async def scenario() -> EpisodeOutcome:
        with PageServer(miniwob_html_dir()) as server:
            async with BrowserManager() as browser:
                task = make_task("click-test", server.base_url)
                calls = {"n": 0}

                def freeze() -> str:
                    assert browser.pid is not None
                    os.kill(browser.pid, signal.SIGSTOP)
                    return "scroll(0, 10)"

                def agent(name: str, seed: int) -> object:
                    calls["n"] += 1
                    return Scripted([freeze]) if calls["n"] == 1 else OracleAgent(name)

                cfg = EnvConfig(step_timeout_s=5, reset_timeout_s=60)
                with store.run_scope(kind="web") as run_id:
                    return await run_episode(task, 1, agent, browser, store, run_id,  # type: ignore[arg-type]
                                             env_config=cfg)

    out = asyncio.run(scenario())
    assert out.attempts == 2 and out.success
    ep, steps = rows(store, out.episode_id)
    assert ep.attempts == 2 and "hung" in ep.info["retries"][0]["reason"]
    assert steps[0].info["browser_crashed"] and "hung" in steps[0].error


def test_agent_error_fails_the_episode_not_the_run(web_host: WebHost, store: TraceStore) -> None:
    host = web_host

    class Broken:
        def act(self, observation: WebObservation) -> str:
            raise ValueError("model output unreadable")

    task = make_task("click-test", host.base_url)
    with store.run_scope(kind="web") as run_id:
        out = host.run(run_episode(task, 0, lambda t, s: Broken(),
                                   host.browser, store, run_id), timeout=120)
    ep, steps = rows(store, out.episode_id)
    assert ep.status == "failed" and "model output unreadable" in ep.error and not ep.success
    assert steps == []
