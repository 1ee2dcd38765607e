"""The task interface: set a page up for a seeded episode, and read its reward.

A task is a small object with `setup(page, seed) -> (goal, info)` and
`validate(page, answer) -> TaskResult`; it knows its start URL (whose origin the guard
confines the episode to), the part of the page to observe, and the viewport size.

Two optional parts make resets fast and time fair:

- `reseed(page, seed)` starts a new seeded episode on the page `setup` (or an earlier
  `reseed`) left, without loading anything; it returns None when it cannot (the page is not
  the task's any more), and the environment then calls `setup` on a fresh page. Tasks whose
  pages keep state between episodes leave it at the default (None: always `setup`).
- `time_limit_s` is the task's time limit counted in PAGE time (the time the environment
  spends acting and settling, never the agent's thinking between steps); when it runs out
  the environment calls `expire(page)`, and the next `validate` reads the timeout. None: no
  limit (episodes end by `max_steps`).

Oracle solvers live apart, in `envs.web.oracles`, keyed by task name.
Not handled here: browser contexts, actions, observations (see `core`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Page

from worldplan.envs.web.guard import origin_of


@dataclass(frozen=True)
class TaskResult:
    """The task's verdict after a step: reward (raw, may be partial), done, and why."""

    reward: float
    done: bool
    message: str = ""
    info: dict[str, Any] = field(default_factory=dict)


class WebTask(ABC):
    """A web task. Subclasses set `name`, `start_url` and implement setup/validate."""

    name: str = ""
    start_url: str = ""
    root_selector: str = "body"  # the element whose accessibility tree is observed
    viewport: tuple[int, int] = (500, 320)  # (width, height) CSS px
    time_limit_s: float | None = None  # page-time limit of an episode, seconds (None: none)

    @property
    def origin(self) -> str:
        return origin_of(self.start_url)

    @abstractmethod
    async def setup(self, page: Page, seed: int) -> tuple[str, dict[str, Any]]:
        """Open the task in `page` and start a seeded episode; return (goal, info)."""

    async def reseed(self, page: Page, seed: int) -> tuple[str, dict[str, Any]] | None:
        """Start a seeded episode on the page as the last episode left it, or None."""
        return None

    async def expire(self, page: Page) -> None:
        """The page-time limit ran out: end the episode as the task would (default: no-op)."""
        return None

    @abstractmethod
    async def validate(self, page: Page, answer: str | None = None) -> TaskResult:
        """Read the reward. `answer` is set when the agent sent `stop(answer)`."""
