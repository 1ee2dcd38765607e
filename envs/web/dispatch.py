"""Performing a parsed `Action` on a Playwright page, through a fixed table of handlers.

Element references are resolved with Playwright's `aria-ref=` selector, which finds the
element that the latest `aria_snapshot(mode="ai")` labelled `[ref=...]`; the reference is
validated by `actions.REF_RE` before it becomes part of a selector. Each handler is a short
async function; there is no other path from an action to the page.

Failures raise `ActionFailed` with a message for the agent (no such reference, element not
visible or not editable, option not found, timeout). Playwright errors that mean the page or
the browser is gone are left to propagate: the environment decides whether it was a crash.

Not handled here: parsing (see `actions`), waiting for the task to react (see `core`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from worldplan.envs.web.actions import REF_RE, Action

DEFAULT_TIMEOUT_MS = 3000.0  # per action, milliseconds


class ActionFailed(RuntimeError):
    """A well-formed action that could not be performed; the message is for the agent."""


def target_closed(err: Exception) -> bool:
    text = str(err).lower()
    return "target closed" in text or "has been closed" in text or "browser closed" in text


async def resolve(page: Page, ref: str) -> Locator:
    if not REF_RE.match(ref):  # parse_action checks this too; never build a selector from junk
        raise ActionFailed(f"{ref!r} is not an element reference")
    loc = page.locator(f"aria-ref={ref}")
    try:
        n = await loc.count()
    except PlaywrightError as e:
        if target_closed(e):
            raise
        n = 0
    if n == 0:
        raise ActionFailed(f"no element with ref {ref} on the page now (use the refs of the "
                           "latest observation)")
    return loc.first


async def _click(page: Page, a: Action, t: float) -> None:
    await (await resolve(page, a.args["ref"])).click(timeout=t)


async def _fill(page: Page, a: Action, t: float) -> None:
    await (await resolve(page, a.args["ref"])).fill(a.args["text"], timeout=t)


async def _select(page: Page, a: Action, t: float) -> None:
    loc = await resolve(page, a.args["ref"])
    await loc.select_option(label=a.args["label"], timeout=t)


async def _press(page: Page, a: Action, t: float) -> None:
    await (await resolve(page, a.args["ref"])).press(a.args["key"], timeout=t)


async def _hover(page: Page, a: Action, t: float) -> None:
    await (await resolve(page, a.args["ref"])).hover(timeout=t)


async def _check(page: Page, a: Action, t: float) -> None:
    await (await resolve(page, a.args["ref"])).check(timeout=t)


async def _scroll(page: Page, a: Action, t: float) -> None:
    await page.mouse.wheel(float(a.args["dx"]), float(a.args["dy"]))


async def _nothing(page: Page, a: Action, t: float) -> None:
    return None


HANDLERS: dict[str, Callable[[Page, Action, float], Awaitable[None]]] = {
    "click": _click,
    "fill": _fill,
    "select_option": _select,
    "press": _press,
    "hover": _hover,
    "check": _check,
    "scroll": _scroll,
    "noop": _nothing,
    "stop": _nothing,  # ending the episode is the environment's business
}


async def perform(page: Page, action: Action, timeout_ms: float = DEFAULT_TIMEOUT_MS) -> None:
    """Do `action` on `page`; raise ActionFailed if it cannot be done."""
    handler = HANDLERS.get(action.name)
    if handler is None:
        raise ActionFailed(f"action {action.name!r} is not allowed")
    try:
        await handler(page, action, timeout_ms)
    except ActionFailed:
        raise
    except PlaywrightTimeout as e:
        first = str(e).splitlines()[0] if str(e) else "timeout"
        raise ActionFailed(f"{action}: timed out after {timeout_ms:.0f} ms ({first})") from None
    except PlaywrightError as e:
        if target_closed(e):
            raise
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ActionFailed(f"{action}: {first}") from None
