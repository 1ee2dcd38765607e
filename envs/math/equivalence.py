"""Which final answers are the same answer: the relation votes group by.

`Equal` is a function `(a, b) -> bool` on final answers. Two are provided:
- `string_equal`: equal canonical strings (envs.math.answer.normalize_answer), so
  `\\dfrac{1}{2}` and `\\frac{1}{2}` are equal but `0.5` and `\\frac{1}{2}` are not. Free.
- `grader_equal(grader)`: mathematical equivalence by math-verify through `Grader` (a
  worker process with a hard timeout; results cached there), asked in both directions
  because math-verify's gold/prediction roles are not symmetric; equal canonical strings
  never reach the worker. `0.5`, `\\frac{1}{2}` and `50\\%` are one answer.
`group_answers(answers, equal)` puts answers into groups greedily, in first-seen order: an
answer joins the first group whose first member it equals, else starts a new group. Each
distinct canonical string is compared once per group.
Not handled: repairing non-transitive verdicts (a ~ b and b ~ c but not a ~ c): the first
member of a group decides who joins it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from worldplan.envs.math.answer import normalize_answer
from worldplan.envs.math.grader import Grader

Equal = Callable[[str, str], bool]


def string_equal(a: str, b: str) -> bool:
    return normalize_answer(a) == normalize_answer(b)


def grader_equal(grader: Grader) -> Equal:
    """Mathematical equivalence by math-verify (a timeout counts as different)."""

    def equal(a: str, b: str) -> bool:
        if string_equal(a, b):
            return True
        return grader.grade(a, b).correct or grader.grade(b, a).correct

    return equal


def group_answers(answers: Sequence[str | None], equal: Equal = string_equal
                  ) -> list[int | None]:
    """The group of each answer (0, 1, ... in first-seen order); None for no answer."""
    firsts: list[str] = []  # each group's first member
    known: dict[str, int] = {}  # canonical string -> its group
    out: list[int | None] = []
    for a in answers:
        if not a:
            out.append(None)
            continue
        key = normalize_answer(a)
        if key not in known:
            known[key] = next((g for g, f in enumerate(firsts) if equal(a, f)), len(firsts))
            if known[key] == len(firsts):
                firsts.append(a)
        out.append(known[key])
    return out
