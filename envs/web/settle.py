"""Waiting for a page to settle before it is observed.

The accessibility tree, and so the element references, depend on layout, and layout on
what has loaded: images (also CSS `content: url(...)` icons, which `document.images` does
not list), web fonts, and anything scripts fetch. `NetworkWatch` counts a page's requests
in flight (from Playwright's request events); `settle` waits, at most `timeout_ms`, until
none are in flight across a rendered frame and images and fonts report loaded.

Not handled: pages that never stop fetching (polling, streaming): `settle` returns at the
timeout and the observation is taken as is.
"""

from __future__ import annotations

import asyncio
import time

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Request

_LOADED = ("() => Array.from(document.images).every(img => img.complete)"
           " && (!document.fonts || document.fonts.status === 'loaded')")
_FRAME = "() => new Promise(resolve => requestAnimationFrame(() => resolve(null)))"
POLL_S = 0.02  # seconds between checks of the in-flight count


class NetworkWatch:
    """Counts the requests of `page` that have started and not yet finished or failed."""

    def __init__(self, page: Page) -> None:
        self.inflight = 0
        page.on("request", self._start)
        page.on("requestfinished", self._end)
        page.on("requestfailed", self._end)

    def _start(self, request: Request) -> None:
        self.inflight += 1

    def _end(self, request: Request) -> None:
        self.inflight = max(0, self.inflight - 1)

    async def idle(self, deadline: float) -> None:
        """Return when nothing is in flight (or at `deadline`, a time.monotonic() value)."""
        while self.inflight > 0 and time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)


async def settle(page: Page, watch: NetworkWatch, timeout_ms: float = 3000) -> None:
    deadline = time.monotonic() + timeout_ms / 1000
    try:
        await watch.idle(deadline)
        await asyncio.wait_for(page.evaluate(_FRAME), max(0.05, deadline - time.monotonic()))
        await watch.idle(deadline)
        left_ms = max(50.0, (deadline - time.monotonic()) * 1000)
        await page.wait_for_function(_LOADED, timeout=left_ms)
        await watch.idle(deadline)
    except TimeoutError:
        return
    except PlaywrightError as e:
        if "closed" in str(e).lower():
            raise
