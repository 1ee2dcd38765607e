"""Clickable words inside running text, made visible to the accessibility tree.

Some pages make words of a paragraph clickable without a link element: MiniWoB++'s
click-link wraps them in `<span class="alink">` styled `cursor: pointer` (blue, underlined:
a person sees links). Playwright's `aria_snapshot(mode="ai")` folds such spans into the
paragraph's text, so the observation has no ref for them and no agent can click them.
`mark_inline_links(root)` gives each such element `role="link"` before the snapshot, so it
appears as `- link "Eget" [ref=e6] [cursor=pointer]`. Marked: inline phrasing elements
(INLINE_TAGS) with text, whose computed cursor is `pointer` and whose parent's is not (a
word the page made clickable, not the inherited cursor of a clickable row), with no role of
their own and not inside a link, button, label, option or element with a role. Idempotent
(a marked element has a role); returns how many it marked.
Not handled: clickable words drawn in a canvas or without a pointer cursor (nothing on the
page says they are clickable).
"""

from __future__ import annotations

from playwright.async_api import Locator

INLINE_TAGS = ("span", "b", "i", "em", "strong", "u", "font", "small")

_MARK = """(root, tags) => {
  let marked = 0;
  for (const el of root.querySelectorAll(tags.join(','))) {
    if (el.hasAttribute('role') || el.closest('a, button, label, select, option, [role]'))
      continue;
    const up = el.parentElement;
    if (getComputedStyle(el).cursor === 'pointer' && el.textContent.trim() &&
        !(up && getComputedStyle(up).cursor === 'pointer')) {
      el.setAttribute('role', 'link');
      marked++;
    }
  }
  return marked;
}"""


async def mark_inline_links(root: Locator, timeout_ms: float = 5000) -> int:
    """Give the clickable words under `root` the link role (see the module docstring)."""
    return int(await root.evaluate(_MARK, list(INLINE_TAGS), timeout=timeout_ms))
