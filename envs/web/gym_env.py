"""The Gymnasium environment for web tasks (a sync facade over `core.AsyncWebEnv`).

    env = gym.make("worldplan/miniwob.click-test-v0")        # private browser
    env = gym.make("worldplan/miniwob.click-test-v0", host=host)  # shared WebHost
    obs, info = env.reset(seed=3)
    obs, reward, terminated, truncated, info = env.step('click("e4")')

Observation: a dict of texts (goal, url, axtree, focused, last_action, last_action_error),
plus `screenshot` (uint8, height x width x 3) with `screenshot=True`; see `observation`.
Action: one call of the action language as a string; see `actions`. Reward: the task's raw
reward (MiniWoB++: in [-1, 1], partial credit in some tasks). `reset(seed=s)` seeds both
Gymnasium's RNG and the page; `reset()` draws the page seed from Gymnasium's RNG, so a seed
fixes a whole sequence of episodes.

Pass a `task` object (any `WebTask`, e.g. `SiteTask`) or a MiniWoB++ task name.
Not handled: retrying a crashed episode (the step returns `truncated` with
`info["browser_crashed"]`; `runner` retries), agents, traces.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from worldplan.envs.web.actions import MAX_ACTION_CHARS
from worldplan.envs.web.browser import BrowserConfig
from worldplan.envs.web.core import AsyncWebEnv, EnvConfig
from worldplan.envs.web.host import WebHost
from worldplan.envs.web.observation import (
    AnyText,
    WebObservation,
    observation_space,
    screenshot_array,
)
from worldplan.envs.web.tasks.base import WebTask
from worldplan.envs.web.tasks.registry import make_task

MAX_SEED = 2**31 - 1


class WebEnv(gym.Env[dict[str, Any], str]):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, task: str | WebTask, *, host: WebHost | None = None,
                 config: EnvConfig | None = None,
                 browser_config: BrowserConfig | None = None,
                 render_mode: str | None = None, episode_time_s: float = 600.0) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"unsupported render_mode {render_mode!r}")
        self._own_host = host is None
        self.host = host or WebHost(browser_config)
        if isinstance(task, str):
            task = make_task(task, self.host.base_url, episode_time_s=episode_time_s)
        self.task = task
        self.config = config or EnvConfig()
        self.render_mode = render_mode
        self.core = AsyncWebEnv(task, self.host.browser, self.config)
        self.observation_space = observation_space(self.core.screenshot_shape)
        self.action_space = AnyText(max_length=MAX_ACTION_CHARS, min_length=1)
        self._closed = False

    def _timeout(self, seconds: float) -> float:
        return seconds * self.config.reset_attempts + 30

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start an episode. `options={"page_seed": n}` sets the page's seed directly."""
        super().reset(seed=seed)
        if options and "page_seed" in options:
            page_seed = int(options["page_seed"])
        else:
            page_seed = int(self.np_random.integers(0, MAX_SEED))
        obs, info = self.host.run(self.core.reset(page_seed),
                                  timeout=self._timeout(self.config.reset_timeout_s))
        return obs.as_dict(), info

    def step(self, action: str) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.host.run(
            self.core.step(action), timeout=self.config.step_timeout_s + 30)
        return obs.as_dict(), reward, terminated, truncated, info

    def observation(self) -> WebObservation | None:
        """The latest observation as a dataclass (None before the first reset)."""
        return self.core._last

    def render(self) -> np.ndarray | None:  # type: ignore[override]
        if self.render_mode != "rgb_array" or self.core._page is None:
            return None

        w, h = self.task.viewport
        return self.host.run(screenshot_array(self.core.page, (h, w)), timeout=60)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if not self.host.closed:
                self.host.run(self.core.close(), timeout=30)
        finally:
            if self._own_host:
                self.host.close()
