"""Recorded transitions shown to the world model as worked examples (retrieval, pure).

A 1.5B model asked for "the changed tree lines" after an action mostly repeats lines that
are already on the page (see benchmarks/world_model_accuracy.py); a few real transitions
of the same kind, in exactly the format asked for, show it what a change looks like.
`ExampleBank(examples)` holds `Example`s (page before, action, page after, URL path: the
fields of a recorded transition, agent.runs.web_transitions; `read_example_bank(path)` reads
them from a transitions file); `bank.select(obs, action)` picks up to `shots` of them for the
action about to be imagined and `bank.render(...)` writes them as the prompt paragraph that
`worldmodel.web.prompts.world_model_messages` puts before the world model's TASK.

Selection, deterministic: only examples of the same verb (click, fill, ...); ranked by
(same role of the element acted on, shared words of the two elements' lines, then a fixed
pseudo-random order: a CRC of the example's URL and action, so ties spread over tasks); at
most one example per task page, so a few pages with many recorded steps cannot fill every
shot. Examples recorded on the page being imagined (same URL path, i.e. the same MiniWoB++
task) are never shown: the bank's transitions may come from the very episodes being
evaluated, so only other tasks teach.

Each example is the element's line, the action and the real change (page_diff.real_change,
as `format_change` writes it, cut at EXAMPLE_CHARS), around 40-80 prompt tokens. The
paragraph depends only on the verb, role and element words, so candidates of one step
often share it (the server's prefix cache then serves it).
Not handled: similarity learned from data, examples from imagined pages, several actions.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from worldplan.envs.web.actions import ActionError, parse_action
from worldplan.worldmodel.web.action_grammar import page_tree
from worldplan.worldmodel.web.page_diff import (
    format_change,
    normalise_line,
    real_change,
    tree_line,
)

EXAMPLE_CHARS = 240  # characters of one example's change shown
SHOTS = 3  # examples shown per prediction
_URL = re.compile(r"^URL: (\S+)", re.MULTILINE)
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Example:
    url: str  # path of the page before the action (its task)
    before: str  # accessibility-tree text before the action
    action: str  # action-language string
    after: str  # accessibility-tree text after the action


@dataclass(frozen=True)
class _Indexed:
    example: Example
    verb: str
    role: str
    words: frozenset[str]
    element: str  # the element's display line ("" when the action names no element)
    change: str  # the real change, formatted
    order: int  # tie-break: CRC of URL, action and position


def _verb_and_ref(action: str) -> tuple[str, str] | None:
    try:
        act = parse_action(action)
    except ActionError:
        return None
    return act.name, str(act.args.get("ref", ""))


def element_line(tree: str, ref: str) -> str:
    """The display line (page_diff.tree_line) of the element with `ref` ("" if absent)."""
    if not ref:
        return ""
    mark = f"[ref={ref}]"
    for line in page_tree(tree).splitlines():
        if mark in line:
            return tree_line(line)
    return ""


def _role(line: str) -> str:
    return line.split(" ", 1)[0] if line else ""


def _words(line: str) -> frozenset[str]:
    return frozenset(_WORD.findall(normalise_line(line).lower()))


def _url(obs: str) -> str:
    m = _URL.search(obs)
    return m.group(1) if m else ""


class ExampleBank:
    """Recorded transitions indexed for `select`; examples whose action cannot be read are
    left out (counted in `skipped`)."""

    def __init__(self, examples: Sequence[Example], shots: int = SHOTS) -> None:
        if shots < 1:
            raise ValueError(f"shots must be at least 1, got {shots}")
        self.shots = shots
        self.skipped = 0
        self._items: list[_Indexed] = []
        for i, ex in enumerate(examples):
            vr = _verb_and_ref(ex.action)
            if vr is None:
                self.skipped += 1
                continue
            line = element_line(ex.before, vr[1])
            change = format_change(real_change(ex.before, ex.after))
            self._items.append(_Indexed(ex, vr[0], _role(line), _words(line), line,
                                        change, zlib.crc32(f"{ex.url} {ex.action} {i}".encode())))

    def __len__(self) -> int:
        return len(self._items)

    def select(self, obs: str, action: str) -> list[_Indexed]:
        """Up to `shots` examples for imagining `action` on the page of `obs` (prompt text
        with its URL line, or a bare tree): see the module docstring for the order."""
        vr = _verb_and_ref(action)
        if vr is None:
            return []
        line = element_line(obs, vr[1])
        role, words, url = _role(line), _words(line), _url(obs)
        ranked = sorted(
            (it for it in self._items if it.verb == vr[0] and not (url and it.example.url == url)),
            key=lambda it: (it.role != role, -len(it.words & words), it.order))
        out: list[_Indexed] = []
        pages: set[str] = set()
        for it in ranked:
            if it.example.url in pages:
                continue
            pages.add(it.example.url)
            out.append(it)
            if len(out) == self.shots:
                break
        return out

    def render(self, obs: str, action: str) -> str:
        """The examples paragraph for the world-model prompt ("" when none is chosen)."""
        chosen = self.select(obs, action)
        if not chosen:
            return ""
        parts = ["Examples from other pages (the element acted on, the action, the real "
                 "changed lines):"]
        for it in chosen:
            change = it.change if len(it.change) <= EXAMPLE_CHARS else (
                it.change[:EXAMPLE_CHARS].rsplit("\n", 1)[0] or it.change[:EXAMPLE_CHARS])
            parts.append(f"Element: {it.element or '(none)'}\nAction: {it.example.action}\n"
                         f"Changed lines:\n{change}")
        return "\n".join(parts) + "\n"


def read_example_bank(path: Path, shots: int = SHOTS) -> ExampleBank:
    """A transitions file (JSON Lines with url, before, action and after: the records of
    agent.runs.web_transitions) as a bank. Lines that are not such a record are skipped
    and counted in `skipped`; a file with no record at all is a ValueError (a wrong path
    must not silently mean no examples)."""
    examples: list[Example] = []
    bad = 0
    with Path(path).open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                examples.append(Example(*(str(d[k]) for k in ("url", "before", "action",
                                                              "after"))))
            except (ValueError, TypeError, KeyError):
                bad += 1
    if not examples:
        raise ValueError(f"no transitions in {path}")
    bank = ExampleBank(examples, shots)
    bank.skipped += bad
    return bank
