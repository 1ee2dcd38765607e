"""One environment's page: its own browser context, opened once and kept across episodes.

`Tab.open()` creates a context (the task's viewport, no downloads, no service workers),
adds the page instrumentation (`instrument.PAGE_SCRIPT`) to every document it will load,
opens the page and registers it with the browser's request guard (`guard`). The page then
lives across resets (`core` reseeds it in place) until it must go:

- the browser died or was restarted (`generation` changed), or the page was closed;
- it served `page_episodes` episodes, or its JavaScript heap passed `max_heap_mib`
  (checked every `HEAP_CHECK_EVERY` episodes): memory stays bounded per environment;
- it hung: `recycle()` closes the context if the browser still answers (a page stuck in a
  script), and kills the browser only when the browser itself does not answer.

Not handled: what runs in the page (tasks), episodes and retries (`core`, the runners).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from playwright.async_api import BrowserContext, Page

from worldplan.envs.web.browser import BrowserManager
from worldplan.envs.web.guard import GuardLog
from worldplan.envs.web.instrument import PAGE_SCRIPT
from worldplan.envs.web.settle import NetworkWatch

HEAP_CHECK_EVERY = 20  # episodes between two reads of the page's JS heap
MIB = 2**20


@dataclass(frozen=True)
class TabLimits:
    page_episodes: int = 500  # episodes on one page before it is replaced
    max_heap_mib: float = 256.0  # JS heap (MiB) above which the page is replaced
    close_timeout_s: float = 5.0  # seconds to close a context before giving up on it
    ping_timeout_s: float = 3.0  # seconds the browser has to answer before it counts as hung


class Tab:
    """See the module docstring."""

    def __init__(self, browser: BrowserManager, viewport: tuple[int, int], origin: str,
                 limits: TabLimits | None = None, action_timeout_ms: float = 3000.0) -> None:
        self.browser, self.viewport, self.origin = browser, viewport, origin
        self.limits = limits or TabLimits()
        self.action_timeout_ms = action_timeout_ms
        self.context: BrowserContext | None = None
        self.page: Page | None = None
        self.log = GuardLog(origin=origin.lower())
        self.watch: NetworkWatch | None = None
        self.generation = 0
        self.episodes = 0  # episodes started on the current page
        self.opened = 0  # pages opened over this tab's life
        self.crashed = False  # the page's renderer crashed
        self.restless = False  # the page once did not settle in time (see core)

    def alive(self) -> bool:
        return (self.page is not None and not self.page.is_closed() and not self.crashed
                and self.browser.is_alive() and self.browser.generation == self.generation)

    async def worn_out(self) -> bool:
        """Whether the page should be replaced before the next episode (age, memory)."""
        if self.episodes >= self.limits.page_episodes:
            return True
        if self.page is None or self.episodes == 0 or self.episodes % HEAP_CHECK_EVERY:
            return False
        heap = await self.page.evaluate(
            "() => performance.memory ? performance.memory.usedJSHeapSize : 0")
        return float(heap) > self.limits.max_heap_mib * MIB

    async def open(self) -> Page:
        """A fresh context and page (closing the old ones)."""
        await self.close()
        w, h = self.viewport
        ctx = await self.browser.new_context(viewport={"width": w, "height": h},
                                             accept_downloads=False, service_workers="block")
        self.context, self.generation = ctx, self.browser.generation
        ctx.set_default_timeout(self.action_timeout_ms)
        await ctx.add_init_script(PAGE_SCRIPT)
        page = await ctx.new_page()
        self.page, self.watch, self.episodes = page, NetworkWatch(page), 0
        self.crashed = self.restless = False
        page.on("crash", self._on_crash)
        guard = self.browser.guard
        if guard is None:
            raise RuntimeError("the browser has no request guard")
        self.log = await guard.register(ctx, page, self.origin)
        self.opened += 1
        return page

    def _on_crash(self, page: Page) -> None:
        if page is self.page:
            self.crashed = True

    async def recycle(self) -> str:
        """After a hang: drop the page; kill the browser only if it does not answer either.
        Returns what hung ("page" or "browser")."""
        if await self.browser.responsive(self.limits.ping_timeout_s):
            await self.close()
            return "page"
        await self.browser.kill()
        await self.close()
        return "browser"

    async def close(self) -> None:
        ctx, self.context, self.page, self.watch = self.context, None, None, None
        if ctx is not None:
            try:
                await asyncio.wait_for(ctx.close(), self.limits.close_timeout_s)
            except Exception:  # the browser may be dead or hung; its contexts go with it
                pass
