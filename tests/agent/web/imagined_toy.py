"""A scripted toy world for the searches over imagined states (control flow only).

A page is the set of items ticked so far; the action `check('x')` ticks item x. The three
roles are stand-ins with the methods agent.web.imagination calls, and each charges the
`Budget` it is given exactly as the LLM client does (reserve the worst case before the call,
raise `BudgetExceeded` if it does not fit, settle what was generated: here always the
clamped max_tokens per sample):
- proposer: `propose(path, n)` -> n actions (duplicates allowed), from the imagined path;
- world model: the change "+ ticked x" and, with `pages`, the imagined page (a full prompt
  text with a `LAST ACTION` line, so two orders differ only in that line); an action in
  `broken` gives an error instead (the change could not be applied), one in `half_broken`
  on its first sample only;
- verifier: `value(path)` per imagined trajectory (1 token each).
Every call is logged in `calls` as (role, path, the page it was shown): the proposer's path
is the state it proposes from, the world model's and the verifier's the imagined one.
Never a measure of capability.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from worldplan.agent.graph.tree import Keys
from worldplan.agent.web.imagination import Imagination
from worldplan.agent.web.proposer import Proposal
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.usage import Usage
from worldplan.worldmodel.web.world_model import Prediction, ProgressJudgement

PROPOSAL, PREDICT, JUDGE = 5, 7, 1  # tokens per sample of each role
_ITEM = re.compile(r"check\('(\w+)'\)")


def page(items: Sequence[str], last: str = "") -> str:
    head = ["GOAL: tick the items", "URL: /toy"] + ([f"LAST ACTION: {last}"] if last else [])
    body = [f'- checkbox "{x}" [checked] [ref={x}]' for x in sorted(set(items))]
    return "\n".join([*head, "PAGE:", "<<<", *body, ">>>"])


REAL = page([])


def items_of(text: str) -> list[str]:
    return re.findall(r'checkbox "(\w+)" \[checked\]', text)


def charge(budget: Budget | None, n: int, max_tokens: int) -> None:
    if budget is None:
        return
    res = budget.reserve(n, max_tokens)
    budget.settle(res, Usage(0, n * res.max_tokens))


@dataclass
class Toy:
    propose: Callable[[tuple[str, ...], int], list[str]]
    value: Callable[[tuple[str, ...]], float]
    pages: bool = True
    broken: frozenset[str] = frozenset()
    half_broken: frozenset[str] = frozenset()  # only the first sample gives an error
    calls: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)
    _paths: dict[str, tuple[str, ...]] = field(default_factory=dict)  # page -> path to it

    # the proposer --------------------------------------------------------------------
    async def _propose(self, obs: str, history: Sequence[str], n: int, *, budget: Budget,
                       **_: Any) -> list[Proposal]:
        charge(budget, n, PROPOSAL)
        path = tuple(h.split(" (imagined")[0] for h in history)
        self.calls.append(("proposer", path, obs))
        return [Proposal(a, a, PROPOSAL) for a in self.propose(path, n)]

    # the world model -----------------------------------------------------------------
    async def predict(self, obs: str, action: str, *, imagined: Sequence[tuple[str, str]] = (),
                      n: int = 1, budget: Budget | None = None, **_: Any) -> list[Prediction]:
        charge(budget, n, PREDICT)
        before = self._paths.get(obs, ()) + tuple(a for a, _ in imagined)
        path = (*before, action)
        self.calls.append(("world_model", path, obs))
        if action in self.broken:
            return [Prediction("~ garbled", PREDICT, "stop", "", "no such element")] * n
        item = _ITEM.findall(action)
        shown = ""
        if self.pages:
            shown = page(items_of(obs) + item, last=action)
            self._paths.setdefault(shown, path)
        change = f"+ ticked {item[0]}" if item else "nothing changes"
        good = Prediction(change, PREDICT, "stop", shown, "")
        if action in self.half_broken:
            return [Prediction("~ garbled", PREDICT, "stop", "", "no such element")] + [
                good] * (n - 1)
        return [good] * n

    # the verifier --------------------------------------------------------------------
    async def score(self, goal: str, obs: str, samples: Sequence[Sequence[tuple[str, str]]], *,
                    budget: Budget | None = None, **_: Any) -> ProgressJudgement:
        charge(budget, len(samples), JUDGE)
        scores = []
        for s in samples:
            path = tuple(a for a, _ in s)
            self.calls.append(("verifier", path, obs))
            scores.append(self.value(path))
        return ProgressJudgement(sum(scores) / len(scores), scores, len(scores), len(scores))

    # wiring --------------------------------------------------------------------------
    def imagination(self) -> Imagination:
        me = self

        class _Proposer:
            max_tokens = PROPOSAL

            async def propose(self, obs: str, history: Sequence[str], n: int, *,
                              budget: Budget, **kw: Any) -> list[Proposal]:
                return await me._propose(obs, history, n, budget=budget, **kw)

        stand_in: Any = self  # the world model and the verifier
        proposer: Any = _Proposer()
        return Imagination(stand_in, stand_in, proposer, "tick the items", REAL, [])

    def judged(self) -> list[tuple[str, ...]]:
        return [p for r, p, _ in self.calls if r == "verifier"]

    def imagined(self) -> list[tuple[str, ...]]:
        """The paths the world model imagined (the action last)."""
        return [p for r, p, _ in self.calls if r == "world_model"]


def roots(*actions: str) -> list[tuple[str, str]]:
    return [(f"s0.c{i}", a) for i, a in enumerate(actions)]


def keys() -> Keys:
    return Keys(0)


def check(x: str) -> str:
    return f"check('{x}')"
