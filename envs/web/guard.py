"""The safety policy of the environments' pages, with the browser's HTTP cache kept.

- Every request (navigations, frames, scripts, images, fetches, pop-ups' loads) to another
  origin than its page's task is stopped before it leaves the browser; `data:`, `blob:` and
  `about:` are allowed. Navigations get an empty `204 No Content`, so the page stays where
  it was, state intact; other requests fail as blocked by the client.
- Downloads are refused: download links in the page (`instrument`), and any download that
  still starts is cancelled (contexts are created with `accept_downloads=False`).
- Pop-ups are refused in the page (`instrument`: `window.open`, links and forms aimed at
  another window); any other page the task did not open is closed at once.
- JavaScript dialogs (alert/confirm/prompt) are answered "dismissed" in the page; any that
  still opens is dismissed.

The request filter is ONE CDP `Fetch` interception on the browser target (`RequestGuard`,
attached at each launch by `browser.BrowserManager`), not Playwright's request routing,
which turns the HTTP cache off: with it, every reset reloaded and recompiled jQuery & co.
Each environment's page registers its origin and log (`register`); a request from a frame
of no registered page (a pop-up being closed) is allowed only to an origin some page
registered. Everything refused is logged in the page's `GuardLog`, which the environment
turns into the `last_action_error` of the next observation and into the step's info.

Page text is data: nothing here (or anywhere in `envs.web`) interprets page content as
instructions; the observation hands it to the agent as quoted data.

Not handled: what the page does inside its own origin (that is the task); WebSockets.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, CDPSession, Dialog, Download, Page

LOCAL_SCHEMES = ("data", "blob", "about")


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL ('' for schemes without an origin)."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclass
class GuardLog:
    """What the guard refused since the last `drain()`."""

    origin: str
    blocked: list[str] = field(default_factory=list)  # "navigation http://x/ (off-origin)"

    def add(self, what: str) -> None:
        self.blocked.append(what)

    def add_page_events(self, events: list[dict[str, Any]]) -> None:
        """The page-side refusals (`instrument`), in the same words as the browser's."""
        for ev in events:
            if ev.get("kind") == "popup":
                self.add(f"pop-up {str(ev.get('url', ''))[:200] or 'window'} closed "
                         "(pop-ups are refused)")
            elif ev.get("kind") == "download":
                self.add(f"download {str(ev.get('name', ''))[:200]!r} refused")
            elif ev.get("kind") == "dialog":
                self.add(f"{ev.get('type')} dialog dismissed: "
                         f"{str(ev.get('message', ''))[:200]!r}")

    def drain(self) -> list[str]:
        out, self.blocked = self.blocked, []
        return out


def allowed(url: str, origin: str) -> bool:
    scheme = urlsplit(url).scheme
    return scheme in LOCAL_SCHEMES or origin_of(url) == origin


def off_origin_pattern(origin: str) -> re.Pattern[str]:
    """A regex (JS-compatible) matching every URL outside `origin` and the local schemes."""
    return re.compile("^(?!" + re.escape(origin + "/") + "|" + "|".join(
        f"{s}:" for s in LOCAL_SCHEMES) + ")", re.IGNORECASE)


class RequestGuard:
    """The browser-wide request filter (see the module docstring); one per launch."""

    def __init__(self) -> None:
        self._cdp: CDPSession | None = None
        self._frames: dict[str, GuardLog] = {}  # CDP frame id -> the log of its page
        self._pages: dict[int, tuple[CDPSession, GuardLog]] = {}  # id(page) -> session, log
        self._tasks: set[asyncio.Task[None]] = set()

    async def attach(self, browser: Browser) -> None:
        self._cdp = await browser.new_browser_cdp_session()
        self._cdp.on("Fetch.requestPaused", self._on_paused)
        await self._cdp.send("Fetch.enable", {"patterns": [{"urlPattern": "*"}]})

    async def ping(self) -> None:
        """One round trip to the browser process (raises if it cannot answer)."""
        if self._cdp is None:
            raise RuntimeError("the guard is not attached")
        await self._cdp.send("Browser.getVersion")

    async def register(self, context: BrowserContext, page: Page, origin: str) -> GuardLog:
        """Confine `page` (the only legitimate page of `context`) to `origin`."""
        log = GuardLog(origin=origin.lower())
        session = await context.new_cdp_session(page)
        self._pages[id(page)] = (session, log)
        await self._map_frames(session, log)
        page.on("close", lambda p: self._forget(p))

        async def on_page(other: Page) -> None:
            if other is not page:
                log.add(f"pop-up {other.url[:200] or 'window'} closed")
                await _quiet(other.close())

        async def on_download(download: Download) -> None:
            log.add(f"download {download.suggested_filename!r} refused")
            await _quiet(download.cancel())

        async def on_dialog(dialog: Dialog) -> None:
            log.add(f"{dialog.type} dialog dismissed: {dialog.message[:200]!r}")
            await _quiet(dialog.dismiss())

        context.on("page", on_page)
        page.on("download", on_download)
        page.on("dialog", on_dialog)
        return log

    def _forget(self, page: Page) -> None:
        entry = self._pages.pop(id(page), None)
        if entry is not None:
            self._frames = {f: lg for f, lg in self._frames.items() if lg is not entry[1]}

    async def _map_frames(self, session: CDPSession, log: GuardLog) -> None:
        tree = (await session.send("Page.getFrameTree"))["frameTree"]
        stack = [tree]
        while stack:
            node = stack.pop()
            self._frames[node["frame"]["id"]] = log
            stack += node.get("childFrames", [])

    async def _log_of(self, frame_id: str) -> GuardLog | None:
        if frame_id in self._frames or not frame_id:
            return self._frames.get(frame_id)
        for session, log in list(self._pages.values()):  # a new child frame: look again
            await _quiet(self._map_frames(session, log))
        return self._frames.get(frame_id)

    def _on_paused(self, event: dict[str, Any]) -> None:
        task = asyncio.ensure_future(self._decide(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _decide(self, event: dict[str, Any]) -> None:
        cdp, rid = self._cdp, event["requestId"]
        url = str(event["request"]["url"])
        if cdp is None:
            return
        try:
            log = await self._log_of(str(event.get("frameId", "")))
            origins = {log.origin} if log else {lg.origin for _, lg in self._pages.values()}
            if any(allowed(url, o) for o in origins):
                await cdp.send("Fetch.continueRequest", {"requestId": rid})
                return
            kind = str(event.get("resourceType", "other")).lower()
            if kind == "document":
                if log is not None:
                    log.add(f"navigation to {url[:200]} blocked (off-origin; "
                            f"allowed: {log.origin})")
                # 204 No Content: the frame stays on its page, state intact (a failed load
                # would put an error page in place of the task)
                await cdp.send("Fetch.fulfillRequest", {"requestId": rid, "responseCode": 204})
                return
            if log is not None:
                log.add(f"{kind} request to {url[:200]} blocked (off-origin)")
            await cdp.send("Fetch.failRequest", {"requestId": rid,
                                                 "errorReason": "BlockedByClient"})
        except Exception:  # the browser or the request is gone; refuse if it still waits
            await _quiet(cdp.send("Fetch.failRequest", {"requestId": rid,
                                                        "errorReason": "BlockedByClient"}))


async def _quiet(aw: Any) -> None:
    try:
        await aw
    except Exception:  # the page or browser is already gone; nothing to refuse any more
        return
