"""Performing a parsed `Action` on a Playwright page, through a fixed table of handlers.

Element references are the episode's (`refs.RefMap`): each is turned back into the page's
and resolved with Playwright's `aria-ref=` selector, which finds the element that an
`aria_snapshot(mode="ai")` labelled `[ref=...]`; the reference is validated by
`actions.REF_RE` before it becomes part of a selector. Each handler is a short async
function; there is no other path from an action to the page. Mouse gestures (`click_at`,
`drag`...) go through Playwright's mouse at viewport coordinates, the keyboard actions to
the focused element; a drag always releases the button, also when it fails midway.

Failures raise `ActionFailed` with a message for the agent (no such reference, element not
visible or not editable, option not found, timeout). Playwright errors that mean the page or
the browser is gone are left to propagate: the environment decides whether it was a crash.

Not handled here: parsing (see `actions`), waiting for the task to react (see `core`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from worldplan.envs.web.actions import REF_RE, Action, check_key
from worldplan.envs.web.refs import RefMap
from worldplan.envs.web.typed_inputs import TYPED_KINDS, widget_value

DEFAULT_TIMEOUT_MS = 3000.0  # per action, milliseconds
DRAG_STEPS = 8  # mouse moves between a drag's two points (drag-and-drop libraries need some)


class ActionFailed(RuntimeError):
    """A well-formed action that could not be performed; the message is for the agent."""


def target_closed(err: Exception) -> bool:
    text = str(err).lower()
    return ("target closed" in text or "has been closed" in text or "browser closed" in text
            or "target crashed" in text or "page crashed" in text)


async def resolve(page: Page, ref: str, refs: RefMap | None = None) -> Locator:
    """The element `ref` (an episode reference when `refs` is given) names on the page."""
    if not REF_RE.match(ref):  # parse_action checks this too; never build a selector from junk
        raise ActionFailed(f"{ref!r} is not an element reference")
    page_ref = refs.to_page(ref) if refs is not None else ref
    if page_ref is None or not REF_RE.match(page_ref):
        raise ActionFailed(f"no element with ref {ref} on the page now (use the refs of the "
                           "latest observation)")
    loc = page.locator(f"aria-ref={page_ref}")
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


async def _click(page: Page, a: Action, t: float, r: RefMap | None) -> None:
    await (await resolve(page, a.args["ref"], r)).click(timeout=t)


async def _fill(page: Page, a: Action, t: float, r: RefMap | None) -> None:
    """Fill the field; a date or time field takes the text as typing it would
    (typed_inputs), and a typed field that ends up empty is an error, not a silent no-op."""
    loc = await resolve(page, a.args["ref"], r)
    text = a.args["text"]
    kind = str(await loc.evaluate("e => e.tagName === 'INPUT' ? e.type : ''", timeout=t))
    await loc.fill(widget_value(kind, text), timeout=t)
    if kind in TYPED_KINDS and text.strip() and not await loc.input_value(timeout=t):
        raise ActionFailed(f"the {kind} field did not take {text[:40]!r}: write it as "
                           f"{TYPED_KINDS[kind]}")


async def _select(page: Page, a: Action, t: float, r: RefMap | None) -> None:
    loc = await resolve(page, a.args["ref"], r)
    await loc.select_option(label=a.args["label"], timeout=t)


async def _press(page: Page, a: Action, t: float, r: RefMap | None) -> None:
    await (await resolve(page, a.args["ref"], r)).press(a.args["key"], timeout=t)


async def _hover(page: Page, a: Action, t: float, r: RefMap | None) -> None:
    await (await resolve(page, a.args["ref"], r)).hover(timeout=t)


async def _check(page: Page, a: Action, t: float, r: RefMap | None) -> None:
    await (await resolve(page, a.args["ref"], r)).check(timeout=t)


async def _scroll(page: Page, a: Action, t: float, r: RefMap | None) -> None:
    await page.mouse.wheel(float(a.args["dx"]), float(a.args["dy"]))


async def _nothing(page: Page, a: Action, t: float, r: RefMap | None) -> None:
    return None


async def _click_at(page: Page, a: Action, t: float, r: RefMap | None) -> None:
    await page.mouse.click(float(a.args["x"]), float(a.args["y"]))


async def _click_text(page: Page, a: Action, t: float, r: RefMap | None) -> None:
    matches = page.get_by_text(a.args["text"], exact=True).locator("visible=true")
    if await matches.count() == 0:
        raise ActionFailed(f"no visible element with the text {a.args['text'][:80]!r}")
    await matches.first.click(timeout=t)


async def _dblclick(page: Page, a: Action, t: float, r: RefMap | None) -> None:
    await (await resolve(page, a.args["ref"], r)).dblclick(timeout=t)


async def _dblclick_at(page: Page, a: Action, t: float, r: RefMap | None) -> None:
    await page.mouse.dblclick(float(a.args["x"]), float(a.args["y"]))


async def _center(loc: Locator, t: float) -> tuple[float, float]:
    await loc.scroll_into_view_if_needed(timeout=t)
    box = await loc.bounding_box(timeout=t)
    if box is None:
        raise ActionFailed("the element is not visible (it has no box to drag)")
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


async def _drag_points(page: Page, x: float, y: float, to_x: float, to_y: float) -> None:
    await page.mouse.move(x, y)
    await page.mouse.down()
    try:
        await page.mouse.move(x + (to_x - x) / DRAG_STEPS, y + (to_y - y) / DRAG_STEPS)
        await page.mouse.move(to_x, to_y, steps=DRAG_STEPS)
    finally:
        await page.mouse.up()


async def _drag(page: Page, a: Action, t: float, r: RefMap | None) -> None:
    src = await _center(await resolve(page, a.args["ref"], r), t)
    dst = await _center(await resolve(page, a.args["to"], r), t)
    await _drag_points(page, *src, *dst)


async def _drag_at(page: Page, a: Action, t: float, r: RefMap | None) -> None:
    await _drag_points(page, float(a.args["x"]), float(a.args["y"]),
                       float(a.args["to_x"]), float(a.args["to_y"]))


async def _type(page: Page, a: Action, t: float, r: RefMap | None) -> None:
    await page.keyboard.type(a.args["text"])


async def _key(page: Page, a: Action, t: float, r: RefMap | None) -> None:
    check_key(a.args["keys"], "key")  # parse_action checked it; never send an unchecked key
    await page.keyboard.press(a.args["keys"])


async def _wait(page: Page, a: Action, t: float, r: RefMap | None) -> None:
    await asyncio.sleep(float(a.args["ms"]) / 1000)


Handler = Callable[[Page, Action, float, "RefMap | None"], Awaitable[None]]
HANDLERS: dict[str, Handler] = {
    "click": _click,
    "fill": _fill,
    "select_option": _select,
    "press": _press,
    "hover": _hover,
    "check": _check,
    "scroll": _scroll,
    "noop": _nothing,
    "stop": _nothing,  # ending the episode is the environment's business
    "click_at": _click_at,
    "click_text": _click_text,
    "dblclick": _dblclick,
    "dblclick_at": _dblclick_at,
    "drag": _drag,
    "drag_at": _drag_at,
    "type": _type,
    "key": _key,
    "wait": _wait,
}


async def perform(page: Page, action: Action, timeout_ms: float = DEFAULT_TIMEOUT_MS,
                  refs: RefMap | None = None) -> None:
    """Do `action` on `page` (references are `refs`'s episode references when given);
    raise ActionFailed if it cannot be done."""
    handler = HANDLERS.get(action.name)
    if handler is None:
        raise ActionFailed(f"action {action.name!r} is not allowed")
    try:
        await handler(page, action, timeout_ms, refs)
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
