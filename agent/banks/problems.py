"""A bank's problems as arrays: every candidate of a problem in one pool, for the estimators.

`problem_data(bank)` turns each problem with a "samples" unit into a `ProblemData`: the pool
holds the K samples first (indices 0..K-1), then the revision attempts, then the searches'
candidates; `classes`, `scores`, `correct` are the pool's arrays (agent.banks.estimators).
Answer classes: every answer graded right is one class (they all equal the reference);
wrong answers are grouped by their canonical string (envs.math.answer.normalize_answer),
so two wrong answers that are equal only mathematically vote apart (rare; a math-verify
pass over the wrong ones would merge them). `chains[j]` is chain j's attempts in order
(sample j first); `searches[(strategy, N)]` the search's candidates and whether its own
selected answer was right. A problem missing a unit lacks that entry (its configurations
are then not evaluated on it).
`rescored(problems, scores_of)` swaps the samples' verifier scores for a learned verifier's.
Not handled: evaluation (agent.banks.configs, agent.banks.evaluate).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from worldplan.agent.banks.bank_file import Bank
from worldplan.agent.banks.units import SAMPLES
from worldplan.envs.math.answer import normalize_answer


@dataclass(frozen=True)
class Search:
    candidates: list[int]  # pool indices
    correct: bool  # the strategy's own selected answer
    tokens: int  # completion tokens of the solver (the search's whole text)


@dataclass
class ProblemData:
    uid: str
    level: int | None
    k: int  # samples
    classes: np.ndarray  # (pool,) int, -1: no answer
    scores: np.ndarray  # (pool,) float, NaN: no verdict
    correct: np.ndarray  # (pool,) bool
    tokens: np.ndarray  # (pool,) completion tokens of each candidate (0 for search ones)
    chains: list[list[int]] = field(default_factory=list)
    searches: dict[tuple[str, int], Search] = field(default_factory=dict)
    features: dict[str, Any] = field(default_factory=dict)  # per sample: lp stats, ...

    @property
    def pass_at_1(self) -> float:
        return float(self.correct[:self.k].mean()) if self.k else 0.0


class _Pool:
    def __init__(self) -> None:
        self.keys: dict[str, int] = {}
        self.classes: list[int] = []
        self.scores: list[float] = []
        self.correct: list[bool] = []
        self.tokens: list[int] = []

    def add(self, answer: str | None, correct: bool, score: float | None,
            tokens: int = 0) -> int:
        if answer is None or answer == "":
            cls = -1
        else:
            key = "\x00right" if correct else normalize_answer(answer)
            cls = self.keys.setdefault(key, len(self.keys))
        self.classes.append(cls)
        self.scores.append(math.nan if score is None else float(score))
        self.correct.append(bool(correct))
        self.tokens.append(int(tokens))
        return len(self.classes) - 1


def problem_data(bank: Bank) -> list[ProblemData]:
    """The bank's problems with a samples unit, in dataset order."""
    out = []
    for uid in bank.uids():
        units = bank.of_problem(uid)
        if SAMPLES not in units:
            continue
        out.append(_problem(uid, units))
    return out


def _problem(uid: str, units: dict[str, dict[str, Any]]) -> ProblemData:
    pool = _Pool()
    samples = units[SAMPLES]["samples"]
    for s in samples:
        pool.add(s.get("answer"), s.get("correct", False), s.get("score"), s.get("tokens", 0))
    chains: list[list[int]] = []
    for j in range(len(samples)):
        rec = units.get(f"chain:{j}")
        if rec is None:
            break
        chains.append([j] + [pool.add(a.get("answer"), a.get("correct", False),
                                      a.get("score"), a.get("tokens", 0))
                             for a in rec.get("attempts", [])])
    searches = {}
    for rec in units.values():
        if "strategy" in rec and "budget" in rec:
            idx = [pool.add(c.get("answer"), c.get("correct", False), c.get("score"))
                   for c in rec.get("candidates", [])]
            solver = (rec.get("counts") or {}).get("solver") or {}
            tokens = int(solver.get("completion_tokens", 0))
            searches[(str(rec["strategy"]), int(rec["budget"]))] = Search(
                idx, bool(rec.get("correct")), tokens)
    level = units[SAMPLES].get("level")
    return ProblemData(
        uid, level if isinstance(level, int) else None, len(samples),
        np.array(pool.classes, dtype=int), np.array(pool.scores, dtype=float),
        np.array(pool.correct, dtype=bool), np.array(pool.tokens, dtype=int), chains,
        searches, {"lp": [s.get("lp") or {} for s in samples],
                   "step_scores": [s.get("scores") or [] for s in samples]})


def rescored(problems: list[ProblemData], scores_of: Callable[[str], np.ndarray]
             ) -> list[ProblemData]:
    """The problems with their K samples' scores replaced (a learned verifier's); revision
    attempts and search candidates keep theirs (they have no whole-sample statistics)."""
    out = []
    for p in problems:
        scores = p.scores.copy()
        scores[:p.k] = np.asarray(scores_of(p.uid), dtype=float)[:p.k]
        out.append(replace(p, scores=scores))
    return out
