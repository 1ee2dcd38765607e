"""A page change as lines of the accessibility tree: compute, write, read, apply, score (pure).

The world model predicts the next page as a `PageChange`: tree lines added, removed and
changed (old line, new line). Lines are in display form (`tree_line`): no indentation, no
leading "- ", no focus, cursor or box marks, single spaces, the `[ref=..]` KEPT (a model
needs refs to target new elements). Comparisons use `normalise_line`: the display form
without refs too (refs are identities, not content: an element re-rendered with the same
content and a new ref is not a change).

- `real_change(before, after)`: a minimal line diff of the normalised lines (difflib); a
  removed and an added line with the same ref are one element `changed` (e.g. a textbox that
  got a value, a checkbox that got `[checked]`); lines without refs pair when their role and
  name are the only such pair; unpaired lines stay added/removed; a pair whose content did
  not change (a move) is dropped.
- `format_change` / `parse_change`: the text format asked of the model, one change a line:
  `+ <line>`, `- <line>`, `~ <old line> => <new line>`, or `nothing changes`. The parser
  reads chatty text (bullets, backticks, prose lines ignored: a change line must be a tree
  line, see `is_tree_line`), bounded by MAX_TEXT_CHARS / MAX_LINES / MAX_LINE_CHARS /
  MAX_ITEMS, and raises only `ChangeFormatError`. Nothing is evaluated.
- `apply_change(page, change)`: the imagined page. A removed or changed line is found by its
  display line, else its normalised line, else its ref; one that is not on the page raises
  `ChangeFormatError` (a prediction that cannot be applied). Changed lines are replaced in
  place; added lines go after the last line at its indentation (their place in the tree is
  not part of the format, so the imagined page equals the real one as a multiset of lines).
- `score_change(predicted, real)`: precision, recall and F1 over change items, multisets of
  `"+ " + line` (added), `"- " + line` (removed) and `"~ " + new line` (changed: the state
  the element ends in), lines normalised, both changes first `canonical` (so a prediction
  written as a removal plus an addition of one element counts as that element changed).
  Multisets, not sets: a page can gain three identical lines. `None` (an unparsable or
  unappliable prediction) scores 0 and not exact: wrong, not dropped.
Not handled: where added lines go in the tree, semantic (paraphrase) matching, boxes.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from worldplan.envs.web.axtree import parse_line

MAX_TEXT_CHARS = 50_000  # characters of model text read
MAX_LINES = 400  # lines of model text read
MAX_LINE_CHARS = 2_000  # a longer line is never a change line
MAX_ITEMS = 200  # change lines kept

_MARKS = re.compile(r"\s*\[(?:active|cursor=[^\]]*|box=[^\]]*)\]")
_REF = re.compile(r"\s*\[ref=([^\]]*)\]")
_SPACES = re.compile(r"\s{2,}")
_BULLET = re.compile(r"^(?:[*\u2022]|\d{1,3}[.)])\s+")
_NOTHING = re.compile(r"\b(nothing (?:changes|happens)|no (?:visible )?changes?|unchanged|"
                      r"does not change|stays the same)\b", re.IGNORECASE)
_ARROWS = (" => ", " -> ", " \u2192 ")
NOTHING = "nothing changes"


class ChangeFormatError(ValueError):
    """Model text that holds no page change, or a change that cannot be applied."""


def tree_line(raw: str) -> str:
    """The display form of a tree line (see the module docstring); the ref kept."""
    s = raw.strip()
    if s.startswith("- "):
        s = s[2:]
    return _SPACES.sub(" ", _MARKS.sub("", s)).strip()


def normalise_line(raw: str) -> str:
    """The comparison form of a tree line: its display form without the ref."""
    return _SPACES.sub(" ", _REF.sub("", tree_line(raw))).strip()


def line_ref(line: str) -> str:
    """The line's `[ref=..]` value ('' when it has none)."""
    m = _REF.search(line)
    return m.group(1) if m else ""


def is_tree_line(line: str) -> bool:
    """Whether a display line reads as an element of the tree (role, name, attributes,
    text) or a property (`/url: ...`), as envs.web.axtree reads them."""
    node = parse_line("- " + line)
    return node is not None and (node.role != "" or line.startswith("/"))


@dataclass(frozen=True)
class PageChange:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[tuple[str, str], ...] = ()  # (old line, new line)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _lines(page: str) -> list[str]:
    return [tree_line(ln) for ln in page.splitlines() if ln.strip()]


def _head(line: str) -> tuple[str, str] | None:
    node = parse_line("- " + line)
    return (node.role, node.name) if node is not None and node.role else None


def canonical(change: PageChange) -> PageChange:
    """Pair removed and added lines of one element into `changed` (same ref; or, without
    refs, the only removed and the only added line of a role and name), and drop changed
    pairs whose normalised content is equal. Order of appearance is kept."""
    removed, added = change.removed, change.added
    pairs = list(change.changed)
    taken_r: set[int] = set()
    taken_a: set[int] = set()
    by_ref: dict[str, list[int]] = {}
    for j, a in enumerate(added):
        if ref := line_ref(a):
            by_ref.setdefault(ref, []).append(j)
    for i, r in enumerate(removed):
        if (ref := line_ref(r)) and by_ref.get(ref):
            j = by_ref[ref].pop(0)
            taken_r.add(i)
            taken_a.add(j)
            pairs.append((r, added[j]))
    heads_r = {i: h for i, r in enumerate(removed)
               if i not in taken_r and not line_ref(r) and (h := _head(r))}
    heads_a = {j: h for j, a in enumerate(added)
               if j not in taken_a and not line_ref(a) and (h := _head(a))}
    count_r, count_a = Counter(heads_r.values()), Counter(heads_a.values())
    only_a = {h: j for j, h in heads_a.items() if count_a[h] == 1}
    for i, h in heads_r.items():
        if count_r[h] == 1 and h in only_a:
            taken_r.add(i)
            taken_a.add(only_a[h])
            pairs.append((removed[i], added[only_a[h]]))
    kept = tuple(p for p in pairs if normalise_line(p[0]) != normalise_line(p[1]))
    return PageChange(tuple(a for j, a in enumerate(added) if j not in taken_a),
                      tuple(r for i, r in enumerate(removed) if i not in taken_r), kept)


def real_change(before: str, after: str) -> PageChange:
    """What changed from one tree text to the next (see the module docstring)."""
    b, a = _lines(before), _lines(after)
    matcher = difflib.SequenceMatcher(None, [normalise_line(x) for x in b],
                                      [normalise_line(x) for x in a], autojunk=False)
    removed: list[str] = []
    added: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += b[i1:i2]
            added += a[j1:j2]
    return canonical(PageChange(tuple(added), tuple(removed)))


def format_change(change: PageChange) -> str:
    """The change in the model's text format, one line per change."""
    if change.empty:
        return NOTHING
    return "\n".join([f"~ {o} => {n}" for o, n in change.changed] +
                     [f"- {r}" for r in change.removed] + [f"+ {a}" for a in change.added])


def _change_line(raw: str) -> tuple[str, str, str] | None:
    """(kind, line, new line) of one change line of model text, or None."""
    s = raw.strip()
    if len(s) > MAX_LINE_CHARS:
        return None
    s = _BULLET.sub("", s.strip("`").strip(), count=1).strip("`").strip()
    if s[:2] == "- " and s[2:3] in ("+", "~", "-") and s[3:4] == " ":
        s = s[2:]  # a markdown bullet before the marker
    if len(s) < 3 or s[0] not in "+-~" or not s[1].isspace():
        return None
    kind, body = s[0], s[1:].strip()
    if kind == "~":
        arrow = next((a for a in _ARROWS if a in body), None)
        if arrow is None:
            return None
        old, new = (tree_line(x) for x in body.split(arrow, 1))
        return (kind, old, new) if is_tree_line(old) and is_tree_line(new) else None
    line = tree_line(body)
    return (kind, line, "") if is_tree_line(line) else None


def parse_change(text: str) -> PageChange:
    """The change in model text (see the module docstring); ChangeFormatError if none."""
    text = (text or "")[:MAX_TEXT_CHARS]
    added: list[str] = []
    removed: list[str] = []
    changed: list[tuple[str, str]] = []
    for raw in text.splitlines()[:MAX_LINES]:
        item = _change_line(raw)
        if item is None:
            continue
        kind, line, new = item
        if kind == "+":
            added.append(line)
        elif kind == "-":
            removed.append(line)
        else:
            changed.append((line, new))
        if len(added) + len(removed) + len(changed) >= MAX_ITEMS:
            break
    if added or removed or changed:
        return PageChange(tuple(added), tuple(removed), tuple(changed))
    if _NOTHING.search(text):
        return PageChange()
    shown = text.strip()[:80]
    raise ChangeFormatError(f"no change line ('+ line', '- line', '~ old => new') and no "
                            f"'{NOTHING}' in the model's text {shown!r}")


class _Page:
    """The page's lines, findable by display line, normalised line and ref, each once."""

    def __init__(self, raw: Sequence[str]) -> None:
        self.index: dict[str, dict[str, list[int]]] = {"line": {}, "norm": {}, "ref": {}}
        for i, ln in enumerate(raw):
            if ln.strip():
                d = tree_line(ln)
                for kind, key in (("line", d), ("norm", normalise_line(d)),
                                  ("ref", line_ref(d))):
                    if key:
                        self.index[kind].setdefault(key, []).append(i)
        self.used: set[int] = set()

    def take(self, line: str, what: str) -> int:
        d = tree_line(line)
        for kind, key in (("line", d), ("norm", normalise_line(d)), ("ref", line_ref(d))):
            for i in self.index[kind].get(key, []) if key else []:
                if i not in self.used:
                    self.used.add(i)
                    return i
        raise ChangeFormatError(f"cannot apply the change: {what} line {line!r} is not on "
                                "the page")


def _prefix(raw: str) -> str:
    body = raw.lstrip()
    return raw[:len(raw) - len(body)] + ("- " if body.startswith("- ") or not body else "")


def apply_change(page: str, change: PageChange) -> str:
    """The imagined page after `change` (see the module docstring)."""
    raw = page.splitlines()
    found = _Page(raw)
    gone = {found.take(line, "removed") for line in change.removed}
    new = {found.take(old, "changed"): line for old, line in change.changed}
    out = [(_prefix(ln) + new[i]) if i in new else ln
           for i, ln in enumerate(raw) if i not in gone]
    last = _prefix(next((ln for ln in reversed(raw) if ln.strip()), "- "))
    indent = last if last.endswith("- ") else last + "- "
    return "\n".join(out + [indent + line for line in change.added])


@dataclass(frozen=True)
class ChangeScore:
    precision: float  # of the predicted change items, in [0, 1]
    recall: float  # of the real change items, in [0, 1]
    f1: float
    exact: bool  # the same multiset of change items
    applied: bool  # the prediction was read (and applied): not None
    predicted_items: int
    real_items: int


def change_items(change: PageChange) -> Counter[str]:
    """The multiset of normalised change items that scoring compares."""
    c = canonical(change)
    return Counter([f"+ {normalise_line(a)}" for a in c.added] +
                   [f"- {normalise_line(r)}" for r in c.removed] +
                   [f"~ {normalise_line(n)}" for _, n in c.changed])


def score_change(predicted: PageChange | None, real: PageChange) -> ChangeScore:
    """Precision, recall, F1 and exact match of a predicted change against the real one;
    None (unparsable or unappliable) scores 0. Nothing predicted for nothing changed is
    1, 1, 1 and exact; nothing predicted for something changed is 0 (and vice versa)."""
    want = change_items(real)
    if predicted is None:
        return ChangeScore(0.0, 0.0, 0.0, False, False, 0, sum(want.values()))
    got = change_items(predicted)
    n_got, n_want = sum(got.values()), sum(want.values())
    common = sum((got & want).values())
    p = common / n_got if n_got else (1.0 if not n_want else 0.0)
    r = common / n_want if n_want else (1.0 if not n_got else 0.0)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return ChangeScore(p, r, f1, got == want, True, n_got, n_want)
