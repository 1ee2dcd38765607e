"""Where a web agent run's environments come from.

`MiniWoBEnvs(tasks, browser_config, max_steps)` is what `worldplan web --strategy ...` runs
on (the default of agent.runs.web_agent.run_web_agent): an async context that serves the
MiniWoB++ pages on 127.0.0.1, makes the named tasks (an unknown name fails on entry, before
any episode) and starts one browser; `episode(task)` gives a fresh `AsyncWebEnv` for one
episode and closes it at the end; `restarts` counts the browser's restarts. Anything with
the same members (`WebEnvs`) can stand in: tests drive the real graph, checkpointer and
trace store over a scripted page that way.
Not handled: the episodes themselves (agent.runs.web_agent), scripted agents
(agent.runs.web_scripted runs its own browser).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Protocol

from worldplan.agent.web.domain import WebEnvLike
from worldplan.envs.web.browser import BrowserConfig, BrowserManager
from worldplan.envs.web.core import AsyncWebEnv, EnvConfig
from worldplan.envs.web.tasks.base import WebTask
from worldplan.envs.web.tasks.registry import make_task, miniwob_server


class WebEnvs(Protocol):
    """Environments for a run's episodes, open while the run is (`async with`)."""

    @property
    def restarts(self) -> int: ...

    async def __aenter__(self) -> object: ...

    async def __aexit__(self, *exc: object) -> None: ...

    def episode(self, task: str) -> AbstractAsyncContextManager[WebEnvLike]: ...


class MiniWoBEnvs:
    """The MiniWoB++ pages in one real browser."""

    def __init__(self, tasks: Sequence[str], browser_config: BrowserConfig | None = None,
                 max_steps: int = 10) -> None:
        self.names = list(tasks)
        self.browser_config, self.max_steps = browser_config, max_steps
        self._stack = AsyncExitStack()
        self._tasks: dict[str, WebTask] = {}
        self._browser: BrowserManager | None = None

    @property
    def restarts(self) -> int:
        return self._browser.restarts if self._browser is not None else 0

    async def __aenter__(self) -> MiniWoBEnvs:
        async with AsyncExitStack() as stack:
            server = stack.enter_context(miniwob_server())
            self._tasks = {t: make_task(t, server.base_url) for t in self.names}
            self._browser = await stack.enter_async_context(
                BrowserManager(self.browser_config))
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    @asynccontextmanager
    async def episode(self, task: str) -> AsyncIterator[WebEnvLike]:
        assert self._browser is not None, "MiniWoBEnvs: enter it first (async with)"
        env = AsyncWebEnv(self._tasks[task], self._browser,
                          EnvConfig(max_steps=self.max_steps))
        try:
            yield env
        finally:
            await env.close()
