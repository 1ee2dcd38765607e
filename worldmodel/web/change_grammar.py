"""The change format as a regular expression over one page, for vLLM's structured outputs.

`change_regex(tree)` admits exactly what worldmodel.web.page_diff reads and can apply to
that page: `nothing changes`, or 1 to `MAX_CHANGES` lines, each `+ <new line>`,
`- <a line of the page>` or `~ <a line of the page> => <new line>`. Removed and changed
lines can only be lines that are on the page (in page_diff's display form, refs kept), so a
constrained prediction applies once its repeated lines are read once
(worldmodel.web.change_reading.once), unless it names one page line twice (removes and changes
it: a contradiction, scored as a wrong prediction). A new line has the shape of a tree line
(`NEW_LINE`: a role, an optional quoted name, up to 3 [attributes], an optional ": text").
A page's lines beyond `MAX_PAGE_LINES`, and lines the change format cannot quote (with
" => " or a backtick), are left out of the choice.
Pure. Not handled: where an added line goes (the format has no position).
"""

from __future__ import annotations

import re

from worldplan.worldmodel.web.action_grammar import page_tree
from worldplan.worldmodel.web.page_diff import NOTHING, tree_line

_SPECIAL = re.compile(r"([\\.^$*+?{}\[\]|()])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_CHANGES = 6  # change lines a prediction may have
MAX_PAGE_LINES = 120  # page lines a prediction may remove or change
LINE_CHARS = 80  # characters of a new line's name or text
# a new tree line: role, optional "name", optional [attributes], optional ": text"
_CHAR = r"\x00-\x1f\x7f\x85\u2028\u2029"  # control and line-breaking characters
NEW_LINE = (f'[a-z]{{2,20}}(?: "[^"\\\\{_CHAR}]{{0,{LINE_CHARS}}}")?'
            r"(?: \[[a-z]{2,12}(?:=[^\]" + _CHAR + r"]{1,20})?\]){0,3}"
            f"(?:: [^{_CHAR}]{{1,{LINE_CHARS}}})?")


def page_lines(tree: str) -> list[str]:
    """The page's distinct lines in display form, in page order (at most MAX_PAGE_LINES)."""
    out: dict[str, None] = {}
    for raw in page_tree(tree).splitlines():
        line = tree_line(raw)
        if line and len(line) <= 400 and " => " not in line and "`" not in line:
            out.setdefault(line, None)
        if len(out) == MAX_PAGE_LINES:
            break
    return list(out)


def literal(text: str) -> str:
    """`text` as a regular expression matching itself (only the operators escaped: some
    structured-output backends read `\\ ` as an unknown escape)."""
    escaped = _SPECIAL.sub(r"\\\1", text)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", escaped)


def change_regex(tree: str) -> str:
    """The regular expression of the changes that apply to `tree` (an accessibility tree or
    an observation's prompt text)."""
    new = NEW_LINE
    old = "|".join(literal(line) for line in page_lines(tree))
    items = [f"\\+ {new}"]
    if old:
        items += [f"- (?:{old})", f"~ (?:{old}) => {new}"]
    item = "(?:" + "|".join(items) + ")"
    return f"(?:{literal(NOTHING)}|{item}(?:\\n{item}){{0,{MAX_CHANGES - 1}}})"


def structured_change(tree: str) -> dict[str, dict[str, str]]:
    """The request fields (vLLM's `structured_outputs`) that constrain a prediction."""
    return {"structured_outputs": {"regex": change_regex(tree)}}
