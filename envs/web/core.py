"""The async web environment: one task, one episode at a time, in its own browser context.

`reset(seed)` opens a fresh guarded context and page (so element references restart at e1
and nothing leaks between episodes), runs the task's seeded setup, and observes.
`step(text)` parses the action (`actions`), performs it (`dispatch`), lets the page settle,
asks the task for the reward (`validate`) and observes again. It returns
`(observation, reward, terminated, truncated, info)` like Gymnasium:

- an unparsable, disallowed or failing action costs a step and comes back as
  `last_action_error`; the episode goes on;
- requests the guard refused (off-origin navigation, pop-ups, downloads) are reported in
  `last_action_error` and `info["blocked"]`;
- `stop(answer)` ends the episode with the task's verdict on the answer;
- a crashed or hung browser (no answer within `step_timeout_s`) ends the step with
  `truncated=True` and `info["browser_crashed"]`; the hung browser is killed, and the next
  `reset` starts a new one. Retrying the episode is the caller's decision (see `runner`).

`info` holds only deterministic values (no timings), so that a seed replays exactly.
Not handled: agents, traces, retries of whole episodes (see `runner`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from playwright.async_api import BrowserContext, Page

from worldplan.envs.web.actions import ActionError, parse_action
from worldplan.envs.web.browser import BrowserCrashed, BrowserManager
from worldplan.envs.web.dispatch import ActionFailed, perform, target_closed
from worldplan.envs.web.guard import GuardLog, install_guard
from worldplan.envs.web.observation import WebObservation, observe
from worldplan.envs.web.settle import NetworkWatch, settle
from worldplan.envs.web.tasks.base import TaskResult, WebTask


@dataclass(frozen=True)
class EnvConfig:
    max_steps: int = 30  # steps before truncation
    action_timeout_ms: float = 3000.0  # Playwright timeout of one action, milliseconds
    step_timeout_s: float = 60.0  # a step slower than this means a hung browser, seconds
    reset_timeout_s: float = 90.0  # likewise for reset (page load and task setup), seconds
    reset_attempts: int = 3  # launches tried when the browser dies during reset
    screenshot: bool = False  # add an RGB screenshot of the viewport to the observation


StepReturn = tuple[WebObservation, float, bool, bool, dict[str, Any]]


class AsyncWebEnv:
    """See the module docstring. `browser` is shared; the context is this env's own."""

    def __init__(self, task: WebTask, browser: BrowserManager,
                 config: EnvConfig | None = None) -> None:
        self.task, self.browser = task, browser
        self.config = config or EnvConfig()
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._guard: GuardLog | None = None
        self._watch: NetworkWatch | None = None
        self._generation = 0
        self.goal = ""
        self.seed: int | None = None
        self.steps = 0
        self.done = False
        self.browser_restarts = 0  # restarts this env caused or saw during reset
        self._last: WebObservation | None = None

    @property
    def page(self) -> Page:
        if self._page is None:
            raise RuntimeError("call reset() first")
        return self._page

    @property
    def screenshot_shape(self) -> tuple[int, int] | None:
        w, h = self.task.viewport
        return (h, w) if self.config.screenshot else None

    async def reset(self, seed: int) -> tuple[WebObservation, dict[str, Any]]:
        """Start a new seeded episode; relaunch the browser if it died (up to N times)."""
        self.seed, self.steps, self.done = int(seed), 0, False
        errors: list[str] = []
        for _attempt in range(self.config.reset_attempts):
            await self._close_context()
            try:
                obs, info = await asyncio.wait_for(self._reset_once(int(seed)),
                                                   self.config.reset_timeout_s)
            except TimeoutError:
                errors.append(f"reset timed out after {self.config.reset_timeout_s:.0f} s")
                await self.browser.kill()
            except Exception as e:
                if self.browser.is_alive() and not isinstance(e, BrowserCrashed):
                    raise  # the task itself failed (missing page...): not a browser problem
                errors.append(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            else:
                info["browser_restarts"] = len(errors)
                self.browser_restarts += len(errors)
                return obs, info
            self.browser_restarts += 1
        raise BrowserCrashed(f"could not start {self.task.name} seed {seed}: {errors}")

    async def _reset_once(self, seed: int) -> tuple[WebObservation, dict[str, Any]]:
        w, h = self.task.viewport
        ctx = await self.browser.new_context(viewport={"width": w, "height": h},
                                             accept_downloads=False, service_workers="block")
        self._context, self._generation = ctx, self.browser.generation
        ctx.set_default_timeout(self.config.action_timeout_ms)
        page = await ctx.new_page()
        watch = self._watch = NetworkWatch(page)
        self._page = page
        self._guard = await install_guard(ctx, self.task.origin, page)
        goal, info = await self.task.setup(page, seed)
        await settle(page, watch)
        self.goal = goal
        blocked = self._guard.drain()
        obs = await observe(page, goal=goal, root_selector=self.task.root_selector,
                            screenshot_shape=self.screenshot_shape)
        self._last = obs
        return obs, {**info, "blocked": blocked}

    async def step(self, text: str) -> StepReturn:
        if self._page is None:
            raise RuntimeError("call reset() before step()")
        if self.done:
            obs = self._with(last_action=str(text)[:200],
                             error="the episode is over; call reset()")
            return obs, 0.0, True, False, {"task": self.task.name, "seed": self.seed}
        self.steps += 1
        try:
            return await asyncio.wait_for(self._step(text), self.config.step_timeout_s)
        except TimeoutError:
            await self.browser.kill()
            return self._crashed(text, f"browser hung: no answer in "
                                       f"{self.config.step_timeout_s:.0f} s")
        except Exception as e:
            if self._browser_gone() or target_closed(e):
                return self._crashed(text, f"browser crashed: {type(e).__name__}: "
                                           f"{str(e).splitlines()[0] if str(e) else ''}")
            raise

    async def _step(self, text: str) -> StepReturn:
        page, guard, watch = self.page, self._guard, self._watch
        assert guard is not None and watch is not None
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
                await perform(page, action, self.config.action_timeout_ms)
            except ActionFailed as e:
                errors.append(str(e))
            if action.name == "stop":
                answer = str(action.args.get("answer", ""))
            elif not errors:
                await page.wait_for_timeout(self.task.settle_ms)
                await settle(page, watch)
        blocked = guard.drain()
        errors += blocked
        result: TaskResult = await self.task.validate(page, answer)
        terminated = result.done
        truncated = not terminated and self.steps >= self.config.max_steps
        self.done = terminated or truncated
        obs = await observe(page, goal=self.goal, root_selector=self.task.root_selector,
                            last_action=shown, last_action_error="; ".join(errors),
                            screenshot_shape=self.screenshot_shape)
        self._last = obs
        info = {"task": self.task.name, "seed": self.seed, "step": self.steps,
                "action_ok": not errors, "blocked": blocked, "message": result.message,
                **result.info}
        return obs, float(result.reward), terminated, truncated, info

    def _browser_gone(self) -> bool:
        return (not self.browser.is_alive() or self.browser.generation != self._generation
                or self._page is None or self._page.is_closed())

    def _crashed(self, text: str, why: str) -> StepReturn:
        self.done = True
        obs = self._with(last_action=str(text)[:500], error=why, clear=True)
        info: dict[str, Any] = {"task": self.task.name, "seed": self.seed, "step": self.steps,
                                "browser_crashed": True, "crash": why, "action_ok": False,
                                "blocked": []}
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

    async def _close_context(self) -> None:
        ctx, self._context, self._page = self._context, None, None
        if ctx is not None:
            try:
                await asyncio.wait_for(ctx.close(), 10)
            except Exception:  # the browser may be dead or hung; its contexts go with it
                pass

    async def close(self) -> None:
        await self._close_context()
