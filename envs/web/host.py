"""A sync handle on the async web machinery: an event loop in a thread, one browser, and
the MiniWoB++ page server, shared by any number of Gymnasium environments.

Playwright's async API is the natural fit for several episodes in parallel; Gymnasium's API
is synchronous. `WebHost` runs an asyncio loop in a daemon thread and submits coroutines to
it (`host.run(coro)`), so sync callers block only their own thread. One host = one Chromium
(`BrowserManager`, restarted on crashes) + one `PageServer` (its own process) over the
wheel's `html/`, whose files Chromium may cache.

Create it explicitly and pass it to environments (`gym.make(id, host=host)`) to share one
browser; an environment made without a host creates and owns a private one.

Not handled: episodes (see `core`), trace storage (see `runner`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from worldplan.envs.web.browser import BrowserConfig, BrowserManager
from worldplan.envs.web.page_server import STATIC, PageServer
from worldplan.envs.web.tasks.registry import miniwob_html_dir

T = TypeVar("T")


class WebHost:
    def __init__(self, browser_config: BrowserConfig | None = None,
                 html_dir: str | Path | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="web-host-loop",
                                        daemon=True)
        self._thread.start()
        self.server = PageServer(html_dir or miniwob_html_dir(), cache_control=STATIC).start()
        self.browser = BrowserManager(browser_config)
        self.closed = False

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the host's loop and wait (at most `timeout` seconds) for it."""
        if self.closed:
            coro.close()
            raise RuntimeError("WebHost is closed")
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self.run(self.browser.close(), timeout=30)
        finally:
            self.closed = True
            self.server.stop()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __copy__(self) -> WebHost:
        return self  # a handle on a shared browser: copies are the same handle

    def __deepcopy__(self, memo: dict[int, Any]) -> WebHost:
        return self  # (gym.make deep-copies an env spec's kwargs)

    def __enter__(self) -> WebHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
