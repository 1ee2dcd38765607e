"""The safety policy of a task's browser context.

- Every request (navigations, frames, scripts, images, fetches) to another origin than the
  task's is stopped before it leaves the browser; `data:`, `blob:` and `about:` are allowed.
  Navigations get an empty `204 No Content`, so the page stays where it was, state intact;
  other requests are aborted.
- Downloads are refused (the context is created with `accept_downloads=False`, and any
  download that still starts is cancelled).
- Pop-ups and any page the task did not open are closed at once.
- JavaScript dialogs (alert/confirm/prompt) are dismissed.

Everything refused is logged in a `GuardLog`, which the environment turns into the
`last_action_error` of the next observation and into the step's info.

Page text is data: nothing here (or anywhere in `envs.web`) interprets page content as
instructions; the observation hands it to the agent as quoted data.

Not handled: what the page does inside its own origin (that is the task).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, Dialog, Download, Page, Route

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


async def install_guard(context: BrowserContext, origin: str, main: Page) -> GuardLog:
    """Apply the policy to `context`, whose only legitimate page is `main`."""
    log = GuardLog(origin=origin.lower())

    async def on_route(route: Route) -> None:
        req = route.request
        if allowed(req.url, log.origin):
            await route.continue_()
            return
        if req.is_navigation_request():
            log.add(f"navigation to {req.url[:200]} blocked (off-origin; allowed: {log.origin})")
            # 204 No Content: the browser stays on the current page, with its state intact
            # (aborting would leave an error page in place of the task).
            await route.fulfill(status=204, body="")
            return
        log.add(f"{req.resource_type} request to {req.url[:200]} blocked (off-origin)")
        await route.abort("blockedbyclient")

    async def on_page(page: Page) -> None:
        if page is not main:
            log.add(f"pop-up {page.url[:200] or 'window'} closed")
            await _quiet(page.close())

    async def on_download(download: Download) -> None:
        log.add(f"download {download.suggested_filename!r} refused")
        await _quiet(download.cancel())

    async def on_dialog(dialog: Dialog) -> None:
        log.add(f"{dialog.type} dialog dismissed: {dialog.message[:200]!r}")
        await _quiet(dialog.dismiss())

    # Only other origins are intercepted (the regex runs in the driver, so same-origin page
    # loads make no round trip to Python); on_route checks again.
    await context.route(off_origin_pattern(log.origin), on_route)
    context.on("page", on_page)
    main.on("download", on_download)
    main.on("dialog", on_dialog)
    return log


async def _quiet(aw: Any) -> None:
    try:
        await aw
    except Exception:  # the page or browser is already gone; nothing to refuse any more
        return
