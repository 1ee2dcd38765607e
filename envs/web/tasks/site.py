"""A task on a user's own site: a start URL on localhost, a goal, and a validator.

The validator is any async function `(page, answer) -> TaskResult` that inspects the page
(or the answer given with `stop(answer)`); `answer_is` builds the common one. Sites must be
on this machine (localhost, 127.0.0.1 or ::1) over http(s): the guard confines the episode
to that origin. Seeds are passed in the URL as `?seed=N` when `seed_param` is set.

Not handled: starting the site's server (serve static pages with `server.PageServer`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from playwright.async_api import Page

from worldplan.envs.web.tasks.base import TaskResult, WebTask

Validator = Callable[[Page, "str | None"], Awaitable[TaskResult]]
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


class SiteTask(WebTask):
    def __init__(self, name: str, start_url: str, goal: str, validator: Validator, *,
                 root_selector: str = "body", viewport: tuple[int, int] = (800, 600),
                 seed_param: str | None = None, load_timeout_ms: float = 30_000) -> None:
        parts = urlsplit(start_url)
        if parts.scheme not in ("http", "https") or parts.hostname not in LOCAL_HOSTS:
            raise ValueError(f"a site task needs an http(s) URL on localhost, got {start_url!r}")
        self.name, self.start_url, self.goal = name, start_url, goal
        self.validator = validator
        self.root_selector, self.viewport = root_selector, viewport
        self.seed_param, self.load_timeout_ms = seed_param, load_timeout_ms

    async def setup(self, page: Page, seed: int) -> tuple[str, dict[str, Any]]:
        url = self.start_url
        if self.seed_param:
            url += ("&" if "?" in url else "?") + urlencode({self.seed_param: int(seed)})
        await page.goto(url, wait_until="load", timeout=self.load_timeout_ms)
        return self.goal, {"task": self.name, "seed": int(seed)}

    async def validate(self, page: Page, answer: str | None = None) -> TaskResult:
        return await self.validator(page, answer)


def answer_is(expected: str) -> Validator:
    """A validator: done when the agent stops; reward 1 if its answer equals `expected`."""

    async def check(page: Page, answer: str | None) -> TaskResult:
        if answer is None:
            return TaskResult(0.0, False)
        ok = answer.strip().casefold() == expected.strip().casefold()
        return TaskResult(1.0 if ok else 0.0, True, "correct" if ok else "wrong answer")

    return check
