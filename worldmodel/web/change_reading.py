"""Reading a world model's predicted change against the page it is about.

`read_change(text, page, finished=True)` is the one reading used by the live world model,
the accuracy of executed actions and the accuracy benchmark:
1. repeated lines are read once (a small model repeats a change line);
2. a reply cut at its token limit (`finished=False`) loses its unfinished last line;
3. `page_diff.parse_change`;
4. refs are identities: an added line whose ref is already on the page (and that the
   change does not otherwise remove or change) is that element's new state, so it becomes
   a changed line (the page's line with that ref => the added line). Small models write a
   textbox that got a value as `+ textbox "Name" [ref=e2]: Bob`; read literally, that is a
   second element with the same ref, which no page has;
5. `page_diff.apply_change` checks that it applies.
`read_change` returns the change, `imagine` the change and the page it gives (applied once);
both raise `ChangeFormatError` when it cannot be read or applied.
Pure. Not handled: an added line whose ref is on the page twice (left as added).
"""

from __future__ import annotations

from collections import Counter

from worldplan.worldmodel.web.page_diff import (
    PageChange,
    apply_change,
    line_ref,
    parse_change,
    tree_line,
)


def once(text: str) -> str:
    """The text with repeated lines kept once."""
    return "\n".join(dict.fromkeys(text.splitlines()))


def _by_ref(change: PageChange, page: str) -> PageChange:
    lines = [tree_line(raw) for raw in page.splitlines() if raw.strip()]
    refs = Counter(line_ref(ln) for ln in lines if line_ref(ln))
    named = {line_ref(ln) for ln in (*change.removed, *(old for old, _ in change.changed))}
    added, changed = [], list(change.changed)
    for line in change.added:
        ref = line_ref(line)
        if ref and refs.get(ref) == 1 and ref not in named:
            old = next(ln for ln in lines if line_ref(ln) == ref)
            changed.append((old, line))
            named.add(ref)
        else:
            added.append(line)
    return PageChange(tuple(added), change.removed, tuple(changed))


def imagine(text: str, page: str, *, finished: bool = True) -> tuple[PageChange, str]:
    """The change `text` predicts for `page` (see the module docstring), and the page after
    it."""
    text = once(text or "")
    if not finished and "\n" in text:
        text = text.rsplit("\n", 1)[0]
    change = _by_ref(parse_change(text), page)
    return change, apply_change(page, change)


def read_change(text: str, page: str, *, finished: bool = True) -> PageChange:
    """The change `text` predicts for `page`, checked to apply."""
    return imagine(text, page, finished=finished)[0]
