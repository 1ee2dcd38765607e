"""Reading the accessibility-tree text of an observation back into records.

`aria_snapshot(mode="ai")` prints YAML-like lines:

    - button "Submit" [ref=e4]
    - checkbox "Lc" [checked] [ref=e8]
    - textbox [active] [ref=e3]: Jerald
    - 'link "Tab #1" [ref=e4] [cursor=pointer]':

`parse_tree` turns each line into an `AxNode` (depth, role, name, states, ref, text), which
agents and oracles use to find elements by role and name. It is a reader of Playwright's
format, not a YAML parser: lines it does not recognise (e.g. `- /url: ...` properties) are
kept with role '' so that nothing is silently lost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_LINE = re.compile(
    r'^(?P<role>[A-Za-z][\w-]*)'
    r'(?: "(?P<name>(?:[^"\\]|\\.)*)")?'
    r'(?P<attrs>(?: \[[^\]]*\])*)'
    r'(?::(?: (?P<text>.*))?)?$')
_ATTR = re.compile(r"\[([^\]=]+)(?:=([^\]]*))?\]")


@dataclass(frozen=True)
class AxNode:
    depth: int
    role: str
    name: str = ""
    ref: str = ""
    states: dict[str, str] = field(default_factory=dict)  # checked, selected, active, level...
    text: str = ""
    line: str = ""

    @property
    def label(self) -> str:
        """The name, or the text when the element has no name."""
        return self.name or self.text


def _unquote(s: str) -> str:
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] == '"':
        try:
            return str(json.loads(s))
        except json.JSONDecodeError:
            return s[1:-1]
    return s


def parse_line(raw: str) -> AxNode | None:
    stripped = raw.lstrip(" ")
    if not stripped.startswith("- "):
        return None
    depth = (len(raw) - len(stripped)) // 2
    body = stripped[2:].rstrip()
    if body.startswith("'"):  # a YAML-quoted key: '...':  ('' inside means ')
        end = body.rfind("'")
        body = body[1:end].replace("''", "'") + body[end + 1:]
    m = _LINE.match(body)
    if m is None:
        return AxNode(depth=depth, role="", text=body, line=raw)
    states = {k: (v or "true") for k, v in _ATTR.findall(m.group("attrs") or "")}
    ref = states.pop("ref", "")
    name = m.group("name") or ""
    name = name.replace('\\"', '"').replace("\\\\", "\\")
    return AxNode(depth=depth, role=m.group("role"), name=name, ref=ref, states=states,
                  text=_unquote(m.group("text") or ""), line=raw)


def parse_tree(tree: str) -> list[AxNode]:
    return [n for n in (parse_line(line) for line in tree.splitlines()) if n is not None]


def children(nodes: Sequence[AxNode], at: int) -> list[AxNode]:
    """The nodes under `nodes[at]` (every depth), in page order."""
    out = []
    for n in nodes[at + 1:]:
        if n.depth <= nodes[at].depth:
            break
        out.append(n)
    return out


def parent(nodes: Sequence[AxNode], at: int) -> int:
    """The index of `nodes[at]`'s parent (the nearest earlier node less deep), -1 if none."""
    return next((i for i in range(at - 1, -1, -1) if nodes[i].depth < nodes[at].depth), -1)


def refs(tree: str) -> list[str]:
    return [n.ref for n in parse_tree(tree) if n.ref]


def find(nodes: list[AxNode], role: str | None = None, name: str | None = None,
         *, text: str | None = None) -> list[AxNode]:
    """Nodes with this role (any if None), exact name and/or exact text, that have a ref."""
    return [n for n in nodes if n.ref and (role is None or n.role == role)
            and (name is None or n.name == name) and (text is None or n.label == text)]
