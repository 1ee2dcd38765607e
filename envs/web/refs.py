"""Element references per episode, on a page that lives across episodes.

Playwright's ai-mode snapshot labels interactable elements `[ref=e12]` from a counter that
lives as long as the page's document; a page reseeded in place (see `core`) would show a new
episode's elements as e57, e58, ... and a seed would no longer give the same observation.
`RefMap` renumbers: within one episode, each page reference gets the next episode number
(per frame prefix: `e7`, `f1e3`) the first time a snapshot shows it, so the numbering
depends only on what the episode's snapshots showed, in order, exactly as on a fresh page.
Actions carry episode references; `to_page` turns one back into the page's before it
becomes an `aria-ref=` selector.

Not handled: page text that itself looks like `[ref=e5]` is renumbered with the rest
(Playwright quotes names, so this needs a page that prints such text on purpose).
"""

from __future__ import annotations

import re

_REF = re.compile(r"\[ref=((?:f\d+)?)e(\d+)\]")


class RefMap:
    """Page references <-> episode references, for one episode (`clear()` between)."""

    def __init__(self) -> None:
        self._to_episode: dict[str, str] = {}
        self._to_page: dict[str, str] = {}
        self._next: dict[str, int] = {}

    def clear(self) -> None:
        self._to_episode.clear()
        self._to_page.clear()
        self._next.clear()

    def _episode_ref(self, prefix: str, number: str) -> str:
        page_ref = f"{prefix}e{number}"
        ref = self._to_episode.get(page_ref)
        if ref is None:
            n = self._next.get(prefix, 0) + 1
            self._next[prefix] = n
            ref = f"{prefix}e{n}"
            self._to_episode[page_ref] = ref
            self._to_page[ref] = page_ref
        return ref

    def renumber(self, tree: str) -> str:
        """The snapshot with episode references in place of the page's."""
        return _REF.sub(lambda m: f"[ref={self._episode_ref(m.group(1), m.group(2))}]", tree)

    def to_page(self, ref: str) -> str | None:
        """The page reference of an episode reference (None: no snapshot showed it)."""
        return self._to_page.get(ref)
