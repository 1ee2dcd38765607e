"""The task interface: set a page up for a seeded episode, and read its reward.

A task is a small object with `setup(page, seed) -> (goal, info)` and
`validate(page, answer) -> TaskResult`; it knows its start URL (whose origin the guard
confines the episode to), the part of the page to observe, and the viewport size.
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
    settle_ms: float = 150.0  # wait after each action for the page to react, milliseconds

    @property
    def origin(self) -> str:
        return origin_of(self.start_url)

    @abstractmethod
    async def setup(self, page: Page, seed: int) -> tuple[str, dict[str, Any]]:
        """Open the task in `page` and start a seeded episode; return (goal, info)."""

    @abstractmethod
    async def validate(self, page: Page, answer: str | None = None) -> TaskResult:
        """Read the reward. `answer` is set when the agent sent `stop(answer)`."""
