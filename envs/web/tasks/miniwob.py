"""MiniWoB++ tasks from the `miniwob` wheel's HTML, driven the way MiniWoB++ itself does.

An episode: open `miniwob/NAME.html` (or `flight/NAME/wrapper.html` for `flight.NAME`) from
the local page server, wait for `core` to load, then `Math.seedrandom(seed)` (a number: a
string seed gives other tasks), `core.setDataMode(mode)`, a long episode timer
(`core.EPISODE_MAX_TIME`, default 10 minutes, so a slow model does not time the task out),
and `core.startEpisodeReal()`; flight pages also wait for `WOB_TASK_READY`. The goal is
`core.getUtterance()`.

The reward is MiniWoB++'s raw reward `WOB_RAW_REWARD_GLOBAL` (in [-1, 1], partial credit in
some tasks, not scaled by time); `WOB_REWARD_GLOBAL` (time-scaled) and the reason are kept in
the info. `stop()` before the page ends the episode gives reward 0.

Not handled: MiniWoB++'s Selenium driver and its DOM/field observation (never imported).
"""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

from worldplan.envs.web.tasks.base import TaskResult, WebTask

_START_JS = """([seed, mode, maxTimeMs]) => {
  Math.seedrandom(seed);
  core.setDataMode(mode);
  core.EPISODE_MAX_TIME = maxTimeMs;
  core.startEpisodeReal();
  // MiniWoB's own widgets are not part of the task: make them invisible, which keeps the
  // layout and drops them from the accessibility tree. The goal is given separately.
  for (const id of ['query', 'query-wrap', 'reward-display', 'click-canvas']) {
    const el = document.getElementById(id);
    if (el) el.style.visibility = 'hidden';
  }
  return true;
}"""
_STATE_JS = """() => ({done: WOB_DONE_GLOBAL, raw: WOB_RAW_REWARD_GLOBAL,
  reward: WOB_REWARD_GLOBAL, reason: WOB_REWARD_REASON == null ? null
  : String(WOB_REWARD_REASON)})"""


class MiniWoBTask(WebTask):
    """One MiniWoB++ task served from `base_url` (the root of the wheel's `html/` dir)."""

    def __init__(self, name: str, base_url: str, *, episode_time_s: float = 600.0,
                 data_mode: str = "train", load_timeout_ms: float = 30_000) -> None:
        self.name = name
        self.flight = name.startswith("flight.")
        base = base_url if base_url.endswith("/") else base_url + "/"
        if self.flight:
            self.start_url = f"{base}flight/{name.split('.', 1)[1]}/wrapper.html"
            self.root_selector = "body"
            self.viewport = (600, 800)
        else:
            self.start_url = f"{base}miniwob/{name}.html"
            self.root_selector = "body"  # not #area: jQuery UI dialogs attach to <body>
            self.viewport = (500, 320)
        self.episode_time_s = episode_time_s
        self.data_mode = data_mode
        self.load_timeout_ms = load_timeout_ms

    async def setup(self, page: Page, seed: int) -> tuple[str, dict[str, Any]]:
        t = self.load_timeout_ms
        await page.goto(self.start_url, wait_until="load", timeout=t)
        await page.wait_for_function(
            "() => typeof core !== 'undefined' && typeof genProblem === 'function'"
            " && core.cover_div !== null", timeout=t)
        await page.evaluate(_START_JS, [int(seed), self.data_mode,
                                        int(self.episode_time_s * 1000)])
        await page.wait_for_function("() => WOB_TASK_READY === true", timeout=t)
        utterance = await page.evaluate("() => core.getUtterance()")
        info: dict[str, Any] = {"task": self.name, "seed": int(seed),
                                "data_mode": self.data_mode}
        if isinstance(utterance, dict):  # natural-language tasks: {utterance, fields}
            info["fields"] = utterance.get("fields", {})
            utterance = utterance.get("utterance", "")
        return str(utterance), info

    async def validate(self, page: Page, answer: str | None = None) -> TaskResult:
        s = await page.evaluate(_STATE_JS)
        info = {"raw_reward": float(s["raw"]), "reason": s["reason"] or ""}
        if s["done"]:
            return TaskResult(float(s["raw"]), True, s["reason"] or "", info)
        if answer is not None:
            return TaskResult(0.0, True, "stopped before the task was completed", info)
        return TaskResult(0.0, False, "", info)
