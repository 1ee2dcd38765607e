"""Choosing the final answer among candidate solutions (pure functions).

- naive: the single candidate with the highest verifier score;
- majority: the most frequent final answer (self-consistency), no verifier needed;
- weighted: the answer with the largest SUM of verifier scores over the candidates that
  give it (Snell et al.'s "best-of-N weighted"); a missing score counts 0, and if every
  answer weighs 0 (nothing was verified) it falls back to majority.

Answers are grouped by an equivalence (envs.math.equivalence): by default equal canonical
strings (`\\dfrac{1}{2}` and `\\frac{1}{2}` vote together, `0.5` and `\\frac12` apart); with
`grader_equal(grader)`, mathematical equivalence by math-verify (all three vote together),
which the runners pass in through `SearchContext.same_answer`. Candidates without an answer
never win unless no candidate has one (then the highest-scored is chosen). Ties go to the
answer seen first. Among candidates with the winning answer, the representative is the
highest-scored, then the first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from worldplan.envs.math.equivalence import Equal, group_answers, string_equal


class Scored(Protocol):
    @property
    def answer(self) -> str | None: ...

    @property
    def score(self) -> float | None: ...


def _vote(cands: Sequence[Scored], *, weighted: bool, equal: Equal) -> int | None:
    groups = group_answers([c.answer for c in cands], equal)
    totals: dict[int, float] = {}
    for c, g in zip(cands, groups, strict=True):
        if g is not None:
            totals[g] = totals.get(g, 0.0) + ((c.score or 0.0) if weighted else 1.0)
    if not totals:  # no candidate has an answer: the best-scored one
        return select_naive(cands)
    if weighted and max(totals.values()) <= 0.0:  # nothing verified: majority
        return _vote(cands, weighted=False, equal=equal)
    best = max(totals, key=lambda g: totals[g])  # max keeps the first of equals
    idx = [i for i, g in enumerate(groups) if g == best]
    return max(idx, key=lambda i: (cands[i].score or 0.0, -i))


def select_naive(cands: Sequence[Scored], equal: Equal = string_equal) -> int | None:
    """Index of the highest-scored candidate with an answer (first on ties)."""
    idx = [i for i, c in enumerate(cands) if c.answer] or list(range(len(cands)))
    if not idx:
        return None
    return max(idx, key=lambda i: (cands[i].score if cands[i].score is not None else -1.0, -i))


def select_majority(cands: Sequence[Scored], equal: Equal = string_equal) -> int | None:
    return _vote(cands, weighted=False, equal=equal)


def select_weighted(cands: Sequence[Scored], equal: Equal = string_equal) -> int | None:
    return _vote(cands, weighted=True, equal=equal)


SELECTIONS: dict[str, Callable[[Sequence[Scored], Equal], int | None]] = {
    "naive": select_naive, "majority": select_majority, "weighted": select_weighted}


def select(cands: Sequence[Scored], how: str = "weighted",
           equal: Equal = string_equal) -> int | None:
    """Index of the chosen candidate, by `how` in SELECTIONS, answers grouped by `equal`;
    None when there is none."""
    if how not in SELECTIONS:
        raise ValueError(f"unknown selection {how!r}: use one of {', '.join(SELECTIONS)}")
    return SELECTIONS[how](cands, equal)
