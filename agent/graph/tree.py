"""Search trees as flat records: node dicts, their keys, and a search's outcome.

A search (imagination search over web states, MCTS, a MATH strategy's samples) reports its
tree as flat node dicts with the fields of traces.schema.SearchNode (key, parent_key, kind,
text, answer, score, scores, depth, tokens, chosen, info), never a live object, so graph
checkpoints and replays stay clean. Keys are unique within an episode: s{step}.{prefix}{n}.
Domain-neutral: nothing here knows web pages or math problems.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def node(key: str, parent: str | None, kind: str, text: str, *, step: int, depth: int = 0,
         score: float | None = None, scores: Sequence[float] = (), tokens: int = 0,
         answer: str = "", info: dict[str, Any] | None = None) -> dict[str, Any]:
    """A flat search-node record (the fields of traces.schema.SearchNode)."""
    return {"key": key, "parent_key": parent, "kind": kind, "text": text, "answer": answer,
            "score": score, "scores": list(scores), "depth": depth, "tokens": tokens,
            "chosen": False, "info": {"step": step, **(info or {})}}


@dataclass
class Keys:
    """Node keys unique within an episode: s{step}.{prefix}{n}."""

    step: int
    _n: itertools.count[int] = field(default_factory=itertools.count)

    def __call__(self, prefix: str) -> str:
        return f"s{self.step}.{prefix}{next(self._n)}"


@dataclass
class SearchOutcome:
    action: str | None  # the chosen action (None: nothing readable was found)
    key: str | None  # the chosen node
    score: float | None
    prediction: str  # the world model's predicted change for the chosen action ('' if none)
    nodes: list[dict[str, Any]]
    stop_reason: str = "done"  # done | budget
