"""Gymnasium ids for the web tasks, registered lazily by string entry point.

- `worldplan/miniwob.NAME-v0` for every MiniWoB++ task in `tasks.registry` (e.g.
  `worldplan/miniwob.click-test-v0`, `worldplan/miniwob.flight.AA-v0`);
- `worldplan/web-v0`: give the task with `gym.make("worldplan/web-v0", task=SiteTask(...))`.

Registering imports neither Playwright nor the environment; `gym.make` does. Tasks whose
pages use the clock or animations are registered `nondeterministic` (Gymnasium's checker then
skips the replay comparison): see `NONDETERMINISTIC`.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from worldplan.envs.web.tasks.registry import miniwob_task_names

ENTRY_POINT = "worldplan.envs.web.gym_env:WebEnv"
NAMESPACE = "worldplan"
# Pages that show the time, animate, or keep widget state (MiniWoB++'s own list). Every
# page's first observation is reproducible here (fresh context per episode) except
# stock-market's; during an episode these may still drift, so they stay marked.
NONDETERMINISTIC = frozenset({
    "book-flight", "book-flight-nodelay", "choose-date", "choose-date-easy",
    "choose-date-medium", "choose-date-nodelay", "click-pie", "click-pie-nodelay",
    "click-scroll-list", "drag-cube", "terminal", "stock-market", "flight.AA",
    "flight.Alaska", "flight.Alaska-auto",
})


def env_id(task: str) -> str:
    return f"{NAMESPACE}/miniwob.{task}-v0"


def register_web_envs() -> list[str]:
    """Register the web ids (idempotent); return them. Without `miniwob`, only web-v0."""
    ids = []
    if f"{NAMESPACE}/web-v0" not in registry:
        register(id=f"{NAMESPACE}/web-v0", entry_point=ENTRY_POINT)
    ids.append(f"{NAMESPACE}/web-v0")
    try:
        names = miniwob_task_names()
    except ModuleNotFoundError:
        return ids
    for name in names:
        eid = env_id(name)
        if eid not in registry:
            register(id=eid, entry_point=ENTRY_POINT, kwargs={"task": name},
                     nondeterministic=name in NONDETERMINISTIC)
        ids.append(eid)
    return ids
