"""Chromium's lifecycle: launch, health, kill, restart, memory (async Playwright).

`BrowserManager` owns one Playwright driver and one Chromium process; episodes get their own
`BrowserContext` from it (`new_context`), so several environments run in parallel in one
browser without sharing cookies, storage or pages. At each launch the browser-wide request
filter (`guard.RequestGuard`) is attached, before any page exists. When Chromium dies
(crash, OOM kill, a test's SIGKILL) or hangs, `ensure()` starts a new one; `generation`
counts launches so that callers can tell a context from a dead browser apart, and
`responsive()` tells a hung browser from a hung page.

Playwright's own Chromium is used when installed; otherwise the system's (`/usr/bin/chromium`
by default, or $WORLDPLAN_CHROMIUM) is passed as `executable_path`. Chromium is started with
flags that keep it off the network (no background networking, updates, sync).

Memory: `rss_bytes()` sums resident sets (shared pages counted once per process, an
over-estimate), `pss_bytes()` sums proportional sets (shared pages split between their
processes: the honest total).

Not handled here: what runs in a context (see `core`), the safety policy (see `guard`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from playwright.async_api import Browser, BrowserContext, Playwright, async_playwright

from worldplan.envs.web.guard import RequestGuard

QUIET_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
)
SYSTEM_CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


class BrowserCrashed(RuntimeError):
    """The browser died or stopped answering during an episode."""


@dataclass(frozen=True)
class BrowserConfig:
    """How to launch Chromium. `executable_path=None` picks one (see module docstring)."""

    executable_path: str | None = None
    headless: bool = True
    extra_args: tuple[str, ...] = ()
    launch_timeout_s: float = 60.0  # seconds
    env: dict[str, str | float | bool] = field(default_factory=dict)  # the browser's environ


def find_chromium(config: BrowserConfig, playwright: Playwright) -> str | None:
    """The executable to pass to Playwright, or None to use Playwright's own browser."""
    if config.executable_path:
        return config.executable_path
    own = Path(playwright.chromium.executable_path)
    if own.exists():
        return None
    env = os.environ.get("WORLDPLAN_CHROMIUM")
    for candidate in ((env,) if env else ()) + SYSTEM_CHROMIUM:
        if candidate and shutil.which(candidate):
            return candidate
    raise FileNotFoundError(
        "no Chromium: Playwright's browser is not installed and none of "
        f"{SYSTEM_CHROMIUM} exists; install chromium or set $WORLDPLAN_CHROMIUM")


class BrowserManager:
    """One Chromium, restarted on demand. Use as `async with BrowserManager(cfg) as bm:`."""

    def __init__(self, config: BrowserConfig | None = None) -> None:
        self.config = config or BrowserConfig()
        self.generation = 0  # number of launches so far
        self.restarts = 0  # launches after the first
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self._marker = ""
        self._pid: int | None = None
        self._lock = asyncio.Lock()
        self.guard: RequestGuard | None = None  # the request filter of the current launch

    async def __aenter__(self) -> BrowserManager:
        await self.ensure()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- state ------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The pid of Chromium's browser process (not the renderers), if running."""
        return self._pid

    def is_alive(self) -> bool:
        if self._browser is None or not self._browser.is_connected():
            return False
        return self._pid is None or psutil.pid_exists(self._pid)

    def processes(self) -> list[psutil.Process]:
        """The browser process and all its descendants (renderers, GPU, utilities)."""
        if self._pid is None:
            return []
        try:
            root = psutil.Process(self._pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss_bytes(self) -> int:
        """Sum of resident set sizes (bytes) of the browser's processes (shared pages count
        once per process, so this over-estimates; it is comparable across runs)."""
        total = 0
        for p in self.processes():
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def pss_bytes(self) -> int:
        """Sum of proportional set sizes (bytes) of the browser's processes."""
        total = 0
        for p in self.processes():
            try:
                total += p.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied, AttributeError):
                continue
        return total

    async def responsive(self, timeout_s: float = 3.0) -> bool:
        """Whether the browser process answers a protocol call within `timeout_s` (a page
        stuck in a script does not stop it; a frozen or dead browser does)."""
        guard = self.guard
        if not self.is_alive() or guard is None:
            return False
        try:
            await asyncio.wait_for(guard.ping(), timeout_s)
        except Exception:  # noqa: BLE001 - any failure means "not responsive"
            return False
        return True

    # ---- lifecycle ---------------------------------------------------------------------

    async def ensure(self) -> Browser:
        """Return a live browser, launching (or relaunching) it if needed."""
        async with self._lock:
            if self._browser is not None and self.is_alive():
                return self._browser
            if self._browser is not None:
                await self._drop()
                self.restarts += 1
            return await self._launch()

    async def restart(self) -> Browser:
        """Kill the current browser (hung or not) and launch a new one."""
        await self.kill()
        return await self.ensure()

    async def new_context(self, **kwargs: Any) -> BrowserContext:
        browser = await self.ensure()
        try:
            return await browser.new_context(**kwargs)
        except Exception as e:  # a browser that died between ensure() and here
            if not self.is_alive():
                raise BrowserCrashed(f"browser died while opening a context: {e}") from e
            raise

    async def kill(self) -> None:
        """SIGKILL the browser process (used for hung browsers and in tests)."""
        if self._pid is not None:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        await self._drop()

    async def close(self) -> None:
        async with self._lock:
            await self._drop()
            if self._pw is not None:
                try:
                    await asyncio.wait_for(self._pw.stop(), 15)
                except Exception:  # noqa: BLE001 - shutting down; the driver may be gone
                    pass
                self._pw = None

    async def _launch(self) -> Browser:
        if self._pw is None:
            self._pw = await async_playwright().start()
        self._marker = f"--worldplan-browser={uuid.uuid4().hex}"
        exe = find_chromium(self.config, self._pw)
        args = [*QUIET_ARGS, *self.config.extra_args, self._marker]
        self._browser = await self._pw.chromium.launch(
            executable_path=exe, headless=self.config.headless, args=args,
            timeout=self.config.launch_timeout_s * 1000,
            env=self.config.env or None)
        self._pid = self._find_pid()
        self.guard = RequestGuard()
        await self.guard.attach(self._browser)
        self.generation += 1
        return self._browser

    def _find_pid(self) -> int | None:
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmd = proc.info.get("cmdline") or []
            if self._marker in cmd and not any(c.startswith("--type=") for c in cmd):
                return int(proc.info["pid"])
        return None

    async def _drop(self) -> None:
        browser, self._browser = self._browser, None
        pid, self._pid = self._pid, None
        self.guard = None
        if browser is not None:
            try:
                await asyncio.wait_for(browser.close(), 10)
            except Exception:  # noqa: BLE001 - already dead or hung: kill below
                pass
        if pid is not None and psutil.pid_exists(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
