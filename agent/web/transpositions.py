"""When two imagined web states are the same state: the key of a transposition table.

`state_key(depth, page, actions)` hashes the imagined page's prompt text after normalising
what depends on how the page was reached rather than what it shows: the `LAST ACTION`,
`LAST ACTION ERROR` and `FOCUSED` lines and the focus marks (`[active]`, `[focused]`,
`[cursor=...]`) are dropped, and runs of spaces collapsed. So `fill` then `check` and `check`
then `fill` reach one key when the world model imagines the same page. The depth is part of
the key, so a search that shares states by key stays acyclic (an action that changes
nothing reaches a new state one level deeper, not its parent). When the page is unknown
(the world model gave none) the key is the action path's, and only an identical path
matches. Pure; element references (`[ref=...]`) are kept: they name the page's elements.
Not handled: pages that differ only in ways a task would not notice (text case, order of
sibling elements).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

_FOCUS = re.compile(r"\s*\[(active|focused)\]|\s*\[cursor=[^\]]*\]")
_ORDER_LINES = ("LAST ACTION", "FOCUSED:")  # lines that depend on the order, not the page


def normalised_page(page: str) -> str:
    """The page's text without the marks of how it was reached (see the module docstring)."""
    lines = (" ".join(_FOCUS.sub("", ln).split()) for ln in page.splitlines())
    return "\n".join(ln for ln in lines if ln and not ln.startswith(_ORDER_LINES))


def state_key(depth: int, page: str, actions: Sequence[str]) -> str:
    """The transposition key of an imagined state at `depth` ("depth:hash", 16 hex digits)."""
    body = normalised_page(page) if page else "path:" + "\n".join(actions)
    return f"{depth}:" + hashlib.sha1(body.encode()).hexdigest()[:16]
