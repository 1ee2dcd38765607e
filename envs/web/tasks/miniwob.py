"""MiniWoB++ tasks from the `miniwob` wheel's HTML, driven the way MiniWoB++ itself does.

An episode: `Math.seedrandom(seed)` (a number: a string seed gives other tasks),
`core.setDataMode(mode)` and `core.startEpisodeReal()` on the task's page
(`miniwob/NAME.html`, or `flight/NAME/wrapper.html` for `flight.NAME`, from the local page
server); flight pages also wait for `WOB_TASK_READY`. The goal is `core.getUtterance()`.
`setup` loads the page first; `reseed` starts the next episode on the same page, as
MiniWoB++'s own driver does; first the last episode's timers are cancelled, focus is dropped,
form controls are reset to their defaults and jQuery UI's live regions emptied, so that an
episode inherits nothing the first episode of a fresh page would not have (a sweep over
every task compared a reseeded page's first observation with a fresh page's: equal for all
but stock-market, whose price moves while it is observed).

Time: MiniWoB++ ends an episode after `core.EPISODE_MAX_TIME` of wall time with reward -1,
which would count the agent's thinking. The page's timer is cancelled at every start; the
limit (`episode_time_s`, default 10 minutes) is the environment's, counted in page time
(`WebTask.time_limit_s`), and `expire` ends the episode exactly as the page timer would
(`core.endEpisode(-1, false, 'timed out')`).

The reward is MiniWoB++'s raw reward `WOB_RAW_REWARD_GLOBAL` (in [-1, 1], partial credit in
some tasks, not scaled by time); `WOB_REWARD_GLOBAL` (time-scaled) and the reason are kept in
the info. `stop()` before the page ends the episode gives reward 0.

Not handled: MiniWoB++'s Selenium driver and its DOM/field observation (never imported).
"""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

from worldplan.envs.web.tasks.base import TaskResult, WebTask

# The page timer is replaced by a sentinel: `core.endEpisode` only rewards while
# `core.EP_TIMER` is not null, and clearing a string id is harmless.
_START_JS = """([seed, mode, again]) => {
  if (typeof core === 'undefined' || typeof genProblem !== 'function'
      || core.cover_div === null) return null;
  if (window.__worldplan) window.__worldplan.newEpisode();
  const controls = Array.from(document.querySelectorAll('input, textarea, select'));
  const state = (el) => el.type === 'checkbox' || el.type === 'radio' ? el.checked : el.value;
  const initial = (el) => el.type === 'checkbox' || el.type === 'radio' ? el.defaultChecked
    : el.tagName === 'SELECT' ? null : el.defaultValue;
  if (!again) {  // what the page's own load scripts set (jscolor upper-cases its value...)
    window.__worldplanLoaded = new Map(controls.filter(el => initial(el) !== null
      && state(el) !== initial(el)).map(el => [el, state(el)]));
  } else {
    if (document.activeElement && document.activeElement !== document.body) {
      document.activeElement.blur();
    }
    // Form controls keep what the last episode typed (a dirty value survives genProblem):
    // reset them, through a temporary form that owns them for a moment, then put back what
    // the page's load scripts had set. jQuery UI's live regions keep the last episode's
    // messages: empty them.
    const form = document.createElement('form');
    form.id = '__worldplan_reset';
    document.body.appendChild(form);
    const owners = controls.map(el => el.getAttribute('form'));
    controls.forEach(el => el.setAttribute('form', form.id));
    form.reset();
    controls.forEach((el, i) => owners[i] === null ? el.removeAttribute('form')
                                                   : el.setAttribute('form', owners[i]));
    form.remove();
    for (const [el, v] of (window.__worldplanLoaded || new Map())) {
      if (el.type === 'checkbox' || el.type === 'radio') el.checked = v; else el.value = v;
    }
    document.querySelectorAll('.ui-helper-hidden-accessible[role=status]')
      .forEach(el => { el.textContent = ''; });
  }
  Math.seedrandom(seed);
  core.setDataMode(mode);
  core.startEpisodeReal();
  clearTimeout(core.EP_TIMER);
  core.EP_TIMER = 'worldplan: the environment keeps the time';
  clearInterval(core.CD_TIMER);
  // MiniWoB's own widgets are not part of the task: make them invisible, which keeps the
  // layout and drops them from the accessibility tree. The goal is given separately.
  for (const id of ['query', 'query-wrap', 'reward-display', 'click-canvas']) {
    const el = document.getElementById(id);
    if (el) el.style.visibility = 'hidden';
  }
  const ready = WOB_TASK_READY !== false;
  return {ready: ready, utterance: ready ? core.getUtterance() : null};
}"""
_STATE_JS = """() => ({done: WOB_DONE_GLOBAL, raw: WOB_RAW_REWARD_GLOBAL,
  reward: WOB_REWARD_GLOBAL, reason: WOB_REWARD_REASON == null ? null
  : String(WOB_REWARD_REASON)})"""
_EXPIRE_JS = "() => core.endEpisode(-1, false, 'timed out')"


class MiniWoBTask(WebTask):
    """One MiniWoB++ task served from `base_url` (the root of the wheel's `html/` dir)."""

    def __init__(self, name: str, base_url: str, *, episode_time_s: float | None = 600.0,
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
        self.time_limit_s = episode_time_s
        self.data_mode = data_mode
        self.load_timeout_ms = load_timeout_ms

    async def setup(self, page: Page, seed: int) -> tuple[str, dict[str, Any]]:
        t = self.load_timeout_ms
        await page.goto(self.start_url, wait_until="load", timeout=t)
        await page.wait_for_function(
            "() => typeof core !== 'undefined' && typeof genProblem === 'function'"
            " && core.cover_div !== null", timeout=t)
        out = await self._start(page, seed, again=False)
        if out is None:
            raise RuntimeError(f"{self.name}: the page has no MiniWoB++ core after loading")
        return out

    async def reseed(self, page: Page, seed: int) -> tuple[str, dict[str, Any]] | None:
        if page.url != self.start_url:
            return None
        return await self._start(page, seed, again=True)

    async def _start(self, page: Page, seed: int, *, again: bool
                     ) -> tuple[str, dict[str, Any]] | None:
        started = await page.evaluate(_START_JS, [int(seed), self.data_mode, again])
        if started is None:
            return None
        utterance = started["utterance"]
        if not started["ready"]:
            await page.wait_for_function("() => WOB_TASK_READY === true",
                                         timeout=self.load_timeout_ms)
            utterance = await page.evaluate("() => core.getUtterance()")
        info: dict[str, Any] = {"task": self.name, "seed": int(seed),
                                "data_mode": self.data_mode}
        if isinstance(utterance, dict):  # natural-language tasks: {utterance, fields}
            info["fields"] = utterance.get("fields", {})
            utterance = utterance.get("utterance", "")
        return str(utterance), info

    async def expire(self, page: Page) -> None:
        await page.evaluate(_EXPIRE_JS)

    async def validate(self, page: Page, answer: str | None = None) -> TaskResult:
        s = await page.evaluate(_STATE_JS)
        info = {"raw_reward": float(s["raw"]), "reason": s["reason"] or ""}
        if s["done"]:
            return TaskResult(float(s["raw"]), True, s["reason"] or "", info)
        if answer is not None:
            return TaskResult(0.0, True, "stopped before the task was completed", info)
        return TaskResult(0.0, False, "", info)
