"""Waiting for a page to settle before it is observed, driven by the page's own state.

The accessibility tree, and so the element references, depend on what the page is still
doing: timers about to fire, animation loops, requests in flight, images and fonts loading,
a MiniWoB++ task that is not ready. `settle` asks each frame's instrumentation
(`instrument.PAGE_SCRIPT`) to resolve when none of these is pending, at most `timeout_ms`;
there is no fixed sleep. `NetworkWatch` also counts the page's requests in flight as
Playwright sees them (navigations and iframes included), which the in-page hooks cannot.

A frame that navigates while it settles (a link inside the task's origin, a flight site's
form) is waited for (its `load` event) and asked again. `Settled.events` carries the
page-side guard's refusals (pop-ups, dialogs) for the guard's log.

Not handled: pages that never stop (a clock animating forever): `settle` returns at the
timeout with `quiet=False` and the observation is taken as it is.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, Page, Request

POLL_S = 0.01  # seconds between checks of the in-flight count
DEFAULT_TIMEOUT_MS = 1500.0


@dataclass
class Settled:
    quiet: bool  # nothing was pending when it returned (False: the timeout was reached)
    busy: list[str] = field(default_factory=list)  # what was still pending, if anything
    ms: float = 0.0  # milliseconds waited
    events: list[dict[str, Any]] = field(default_factory=list)  # page-side guard refusals


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


def _navigated(e: Exception) -> bool:
    text = str(e)
    return "Execution context was destroyed" in text or "navigat" in text.lower()


async def _frame_settle(frame: Frame, left_ms: float) -> dict[str, Any] | None:
    """The frame's answer; None when the frame is being replaced (navigation)."""
    try:
        res: dict[str, Any] = await frame.evaluate(
            "(ms) => window.__worldplan ? window.__worldplan.settle(ms)"
            " : {quiet: document.readyState === 'complete', busy: [], ms: 0, events: []}",
            left_ms)
        return res
    except PlaywrightError as e:
        if "closed" in str(e).lower() and frame.page.is_closed():
            raise
        if _navigated(e) or "detached" in str(e).lower():
            return None
        raise


async def settle(page: Page, watch: NetworkWatch | None = None,
                 timeout_ms: float = DEFAULT_TIMEOUT_MS) -> Settled:
    """Wait until the page (every frame) has nothing pending, at most `timeout_ms`."""
    t0 = time.monotonic()
    deadline = t0 + timeout_ms / 1000
    out = Settled(quiet=False)
    while True:
        if watch is not None:
            await watch.idle(deadline)
        left = max(0.0, (deadline - time.monotonic()) * 1000)
        results = await asyncio.gather(*(_frame_settle(f, left) for f in page.frames))
        for r in results:
            if r is not None:
                out.events += list(r.get("events") or [])
        if any(r is None for r in results) and time.monotonic() < deadline:
            try:  # a frame is navigating: wait for its load, then ask again
                await page.wait_for_load_state(
                    "load", timeout=max(1.0, (deadline - time.monotonic()) * 1000))
            except PlaywrightError as e:
                if "closed" in str(e).lower() and page.is_closed():
                    raise
            await asyncio.sleep(POLL_S)
            continue
        busy = sorted({b for r in results if r is not None for b in r.get("busy") or []})
        pending = watch is not None and watch.inflight > 0
        if pending and time.monotonic() < deadline:
            continue
        out.quiet = not busy and not pending and all(r is not None for r in results)
        out.busy = busy + (["network"] if pending else [])
        out.ms = (time.monotonic() - t0) * 1000
        return out
