"""The async web environment: one task, one episode at a time, on its own page.

`reset(seed)` starts a seeded episode on the environment's page (`tab.Tab`: its own browser
context, kept across episodes): the task reseeds the page in place when it can
(`WebTask.reseed`: MiniWoB++ pages, nothing reloaded), else a fresh context and page are
opened and the task is set up from scratch (first reset, other tasks, after a crash or a
hang, or when the page is worn out). Element references restart at e1 in every episode
(`refs.RefMap`), so a seed gives the same observation on a new or a reused page.
`step(text)` parses the action (`actions`), performs it (`dispatch`), lets the page settle
(`settle`: the page's own timers, frames, requests and ready flag, no fixed sleep), asks
the task for the reward (`validate`) and observes again. It returns
`(observation, reward, terminated, truncated, info)` like Gymnasium:

- an unparsable, disallowed or failing action costs a step and comes back as
  `last_action_error`; the episode goes on;
- requests the guard refused (off-origin navigation, pop-ups, downloads) are reported in
  `last_action_error` and `info["blocked"]`;
- `stop(answer)` ends the episode with the task's verdict on the answer;
- time: the task's limit (`WebTask.time_limit_s`) counts page time only (the time spent in
  `reset` and `step`), never the agent's time between steps; past it the task expires;
- a crashed browser, or a page or browser that does not answer within `step_timeout_s`
  (`info["hung"]` says which), ends the step with `truncated=True` and
  `info["browser_crashed"]`; a hung page alone is closed and the browser kept, a hung
  browser is killed; the next `reset` opens a new page. Retrying the episode is the
  caller's decision (see the runners).

`info` holds only deterministic values (no timings), so that a seed replays exactly.
Not handled: agents, traces, retries of whole episodes (see the runners).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Page

from worldplan.envs.web.actions import ActionError, parse_action
from worldplan.envs.web.browser import BrowserCrashed, BrowserManager
from worldplan.envs.web.dispatch import ActionFailed, perform, target_closed
from worldplan.envs.web.observation import WebObservation, observe
from worldplan.envs.web.refs import RefMap
from worldplan.envs.web.settle import settle
from worldplan.envs.web.tab import Tab, TabLimits
from worldplan.envs.web.tasks.base import TaskResult, WebTask


@dataclass(frozen=True)
class EnvConfig:
    max_steps: int = 30  # steps before truncation
    action_timeout_ms: float = 3000.0  # Playwright timeout of one action, milliseconds
    step_timeout_s: float = 20.0  # a step slower than this means a hung page, seconds
    reset_timeout_s: float = 90.0  # likewise for reset (page load and task setup), seconds
    reset_attempts: int = 3  # pages (and launches) tried when the browser dies during reset
    settle_timeout_ms: float = 1500.0  # at most this long waiting for the page, milliseconds
    restless_settle_ms: float = 250.0  # the wait on a page that never settled before, ms
    screenshot: bool = False  # add an RGB screenshot of the viewport to the observation
    boxes: bool = False  # add each element's [box=x,y,width,height] (CSS px) to the tree
    limits: TabLimits = TabLimits()  # when a page is replaced (age, memory, hang timeouts)


StepReturn = tuple[WebObservation, float, bool, bool, dict[str, Any]]


class AsyncWebEnv:
    """See the module docstring. `browser` is shared; the page and its context are this
    env's own."""

    def __init__(self, task: WebTask, browser: BrowserManager,
                 config: EnvConfig | None = None) -> None:
        self.task, self.browser = task, browser
        self.config = config or EnvConfig()
        self.tab = Tab(browser, task.viewport, task.origin, self.config.limits,
                       self.config.action_timeout_ms)
        self.refs = RefMap()
        self.goal = ""
        self.seed: int | None = None
        self.steps = 0
        self.done = False
        self.page_time_s = 0.0  # page time of this episode, seconds (see the docstring)
        self._t0 = 0.0  # when the current step started (time.monotonic())
        self.browser_restarts = 0  # restarts this env caused or saw during reset
        self._last: WebObservation | None = None

    @property
    def page(self) -> Page:
        if self.tab.page is None:
            raise RuntimeError("call reset() first")
        return self.tab.page

    @property
    def _page(self) -> Page | None:  # the page if any (gym_env's render reads it)
        return self.tab.page

    @property
    def screenshot_shape(self) -> tuple[int, int] | None:
        w, h = self.task.viewport
        return (h, w) if self.config.screenshot else None

    async def reset(self, seed: int) -> tuple[WebObservation, dict[str, Any]]:
        """Start a new seeded episode; reopen the page (and relaunch the browser if it
        died) up to `reset_attempts` times."""
        self.seed, self.steps, self.done, self.page_time_s = int(seed), 0, False, 0.0
        errors: list[str] = []
        for _attempt in range(self.config.reset_attempts):
            try:
                obs, info = await asyncio.wait_for(self._reset_once(int(seed)),
                                                   self.config.reset_timeout_s)
            except TimeoutError:
                hung = await self.tab.recycle()
                errors.append(f"reset timed out after {self.config.reset_timeout_s:.0f} s "
                              f"({hung} hung)")
            except Exception as e:
                if self.browser.is_alive() and not isinstance(e, BrowserCrashed) \
                        and not target_closed(e):
                    raise  # the task itself failed (missing page...): not a browser problem
                errors.append(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
                await self.tab.close()
            else:
                info["browser_restarts"] = len(errors)
                self.browser_restarts += len(errors)
                return obs, info
            self.browser_restarts += 1
        raise BrowserCrashed(f"could not start {self.task.name} seed {seed}: {errors}")

    async def _reset_once(self, seed: int) -> tuple[WebObservation, dict[str, Any]]:
        t0 = time.monotonic()
        self.refs.clear()
        started = None
        if self.tab.alive() and not await self.tab.worn_out():
            self.tab.log.drain()  # what the last episode left is not this one's
            started = await self.task.reseed(self.page, seed)
        if started is None:
            page = await self.tab.open()
            started = await self.task.setup(page, seed)
        self.tab.episodes += 1
        goal, info = started
        await self._settle()
        self.goal = goal
        blocked = self.tab.log.drain()
        obs = await self._observe()
        self.page_time_s += time.monotonic() - t0
        return obs, {**info, "blocked": blocked}

    async def step(self, text: str) -> StepReturn:
        if self.tab.page is None:
            raise RuntimeError("call reset() before step()")
        if self.done:
            obs = self._with(last_action=str(text)[:200],
                             error="the episode is over; call reset()")
            return obs, 0.0, True, False, {"task": self.task.name, "seed": self.seed}
        self.steps += 1
        t0 = self._t0 = time.monotonic()
        try:
            return await asyncio.wait_for(self._step(text), self.config.step_timeout_s)
        except TimeoutError:
            hung = await self.tab.recycle()
            return self._crashed(text, f"{hung} hung: no answer in "
                                       f"{self.config.step_timeout_s:.0f} s", hung=hung)
        except Exception as e:
            if self._browser_gone() or target_closed(e):
                await self.tab.close()
                return self._crashed(text, f"browser crashed: {type(e).__name__}: "
                                           f"{str(e).splitlines()[0] if str(e) else ''}")
            raise
        finally:
            self.page_time_s += time.monotonic() - t0

    async def _step(self, text: str) -> StepReturn:
        page, tab = self.page, self.tab
        errors: list[str] = []
        answer: str | None = None
        shown = str(text)[:500]
        try:
            action = parse_action(text)
            shown = str(action)
        except ActionError as e:
            action, errors = None, [str(e)]
        if action is not None:
            try:
                await perform(page, action, self.config.action_timeout_ms, self.refs)
            except ActionFailed as e:
                errors.append(str(e))
            if action.name == "stop":
                answer = str(action.args.get("answer", ""))
        if answer is None:
            await self._settle()
        blocked = tab.log.drain()
        errors += blocked
        limit = self.task.time_limit_s
        if limit is not None and self.page_time_s + time.monotonic() - self._t0 > limit:
            await self.task.expire(page)
        result: TaskResult = await self.task.validate(page, answer)
        terminated = result.done
        truncated = not terminated and self.steps >= self.config.max_steps
        self.done = terminated or truncated
        obs = await self._observe(last_action=shown, last_action_error="; ".join(errors))
        info = {"task": self.task.name, "seed": self.seed, "step": self.steps,
                "action_ok": not errors, "blocked": blocked, "message": result.message,
                **result.info}
        return obs, float(result.reward), terminated, truncated, info

    async def _settle(self) -> None:
        """Let the page settle; a page that once did not settle in time (an animation
        that never ends) is given `restless_settle_ms` from then on."""
        tab, cfg = self.tab, self.config
        timeout = cfg.restless_settle_ms if tab.restless else cfg.settle_timeout_ms
        settled = await settle(self.page, tab.watch, min(timeout, cfg.settle_timeout_ms))
        tab.log.add_page_events(settled.events)
        tab.restless = tab.restless or not settled.quiet

    async def _observe(self, *, last_action: str = "",
                       last_action_error: str = "") -> WebObservation:
        obs = await observe(self.page, goal=self.goal, root_selector=self.task.root_selector,
                            last_action=last_action, last_action_error=last_action_error,
                            screenshot_shape=self.screenshot_shape, refs=self.refs,
                            boxes=self.config.boxes)
        self._last = obs
        return obs

    def _browser_gone(self) -> bool:
        return not self.tab.alive()

    def _crashed(self, text: str, why: str, hung: str = "") -> StepReturn:
        self.done = True
        obs = self._with(last_action=str(text)[:500], error=why, clear=True)
        info: dict[str, Any] = {"task": self.task.name, "seed": self.seed, "step": self.steps,
                                "browser_crashed": True, "crash": why, "action_ok": False,
                                "blocked": []}
        if hung:
            info["hung"] = hung
        return obs, 0.0, False, True, info

    def _with(self, *, last_action: str, error: str, clear: bool = False) -> WebObservation:
        last = self._last
        return WebObservation(
            goal=self.goal, url="" if clear or last is None else last.url,
            axtree="" if clear or last is None else last.axtree,
            focused="" if clear or last is None else last.focused,
            last_action=last_action, last_action_error=error,
            screenshot=None if last is None or last.screenshot is None
            else last.screenshot.copy())

    async def close(self) -> None:
        await self.tab.close()
