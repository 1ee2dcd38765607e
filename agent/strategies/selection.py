"""Choosing the final answer among candidate solutions (pure functions).

- naive: the single candidate with the highest verifier score;
- majority: the most frequent final answer (self-consistency), no verifier needed;
- weighted: the answer with the largest SUM of verifier scores over the candidates that
  give it (Snell et al.'s "best-of-N weighted"); a missing score counts 0, and if every
  answer weighs 0 (nothing was verified) it falls back to majority.

Answers are grouped by their canonical string (envs.math.answer.normalize_answer), so
`\\dfrac{1}{2}` and `\\frac{1}{2}` vote together; `0.5` and `\\frac12` do not (grouping by
proven equivalence would need the grader for every pair). Candidates without an answer
never win unless no candidate has one (then the highest-scored is chosen). Ties go to the
answer seen first. Among candidates with the winning answer, the representative is the
highest-scored, then the first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from worldplan.envs.math.answer import normalize_answer


class Scored(Protocol):
    @property
    def answer(self) -> str | None: ...

    @property
    def score(self) -> float | None: ...


def answer_totals(cands: Sequence[Scored], *, weighted: bool) -> dict[str, float]:
    """Canonical answer -> summed score (weighted) or count, in first-seen order."""
    totals: dict[str, float] = {}
    for c in cands:
        if not c.answer:
            continue
        key = normalize_answer(c.answer)
        totals[key] = totals.get(key, 0.0) + ((c.score or 0.0) if weighted else 1.0)
    return totals


def _best_with(cands: Sequence[Scored], key: str) -> int:
    idx = [i for i, c in enumerate(cands) if c.answer and normalize_answer(c.answer) == key]
    return max(idx, key=lambda i: (cands[i].score or 0.0, -i))


def select_naive(cands: Sequence[Scored]) -> int | None:
    """Index of the highest-scored candidate with an answer (first on ties)."""
    idx = [i for i, c in enumerate(cands) if c.answer] or list(range(len(cands)))
    if not idx:
        return None
    return max(idx, key=lambda i: (cands[i].score if cands[i].score is not None else -1.0, -i))


def select_majority(cands: Sequence[Scored]) -> int | None:
    totals = answer_totals(cands, weighted=False)
    if not totals:  # no candidate has an answer: the best-scored one
        return select_naive(cands)
    best = max(totals, key=lambda k: totals[k])  # max keeps the first of equals
    return _best_with(cands, best)


def select_weighted(cands: Sequence[Scored]) -> int | None:
    totals = answer_totals(cands, weighted=True)
    if not totals or max(totals.values()) <= 0.0:
        return select_majority(cands)
    best = max(totals, key=lambda k: totals[k])
    return _best_with(cands, best)


SELECTIONS: dict[str, Callable[[Sequence[Scored]], int | None]] = {
    "naive": select_naive, "majority": select_majority, "weighted": select_weighted}


def select(cands: Sequence[Scored], how: str = "weighted") -> int | None:
    """Index of the chosen candidate, by `how` in SELECTIONS; None when there is none."""
    if how not in SELECTIONS:
        raise ValueError(f"unknown selection {how!r}: use one of {', '.join(SELECTIONS)}")
    return SELECTIONS[how](cands)
