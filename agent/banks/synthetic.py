"""A synthetic bank whose answers are known in closed form: a check of `bank eval`'s
statistics (never of a model).

Problems come in 5 difficulty levels of equal size with solve rates `levels`. Each of a
problem's K samples is right with its level's rate; right samples share the reference
answer and score 1; wrong samples each give a different answer and score 1 with probability
`false_positive` (else 0). A beam search at budget B is right with probability
1 - (1 - beam_gain[level])^B. So, with C ~ Bin(n, p) right samples among n and q the false
positive rate, the expected accuracy at n is, in closed form:
- weighted vote: P(C >= 2) + P(C = 1) (1 - (1 - q)^n) / (n q) (a lone right sample ties
  with the wrong ones that scored 1);
- majority vote: P(C >= 2) + P(C = 1) / n (all n answers tie at one vote);
- naive (highest score): E[C / (C + W)], W ~ Bin(n - C, q) the wrong samples scoring 1.
`truth(spec, budgets)` gives, per level and budget, each configuration's accuracy, the best
one, and compute-optimal's efficiency ratio against best-of-N weighted (agent.banks.evaluate's
definition), for the oracle difficulty with bins = levels. `write_synthetic(spec, path)`
writes the bank in the real format (agent.banks.bank_file), so `bank eval` reads it as any.
Not handled: revision chains (the bank has none), verifier scores between 0 and 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from worldplan.agent.banks.bank_file import BankWriter, new_header
from worldplan.agent.banks.evaluate import needed_n


@dataclass(frozen=True)
class SyntheticSpec:
    problems: int = 500
    k: int = 32
    levels: tuple[float, ...] = (0.9, 0.6, 0.35, 0.15, 0.04)  # solve rate per level
    false_positive: float = 0.3
    beam_gain: tuple[float, ...] = (0.3, 0.2, 0.3, 0.3, 0.2)  # per level
    beam_budgets: tuple[int, ...] = (1, 2, 4, 8, 16)
    seed: int = 0

    def level_of(self, i: int) -> int:
        """Level (0-based) of problem i: equal blocks."""
        return min(i * len(self.levels) // self.problems, len(self.levels) - 1)


def weighted(p: float, q: float, n: int) -> float:
    c = stats.binom(n, p)
    tie = 1.0 if q == 0 else (1 - (1 - q) ** n) / (n * q)
    return float(1 - c.pmf(0) - c.pmf(1) + c.pmf(1) * tie)


def majority(p: float, n: int) -> float:
    c = stats.binom(n, p)
    return float(1 - c.pmf(0) - c.pmf(1) + c.pmf(1) / n)


def naive(p: float, q: float, n: int) -> float:
    total = 0.0
    for c in range(1, n + 1):
        w = np.arange(n - c + 1)
        total += float(stats.binom.pmf(c, n, p)
                       * (stats.binom.pmf(w, n - c, q) * c / (c + w)).sum())
    return total


def beam(g: float, b: int) -> float:
    return 1 - (1 - g) ** b


def truth(spec: SyntheticSpec, budgets: list[int]) -> dict[str, Any]:
    """Closed-form accuracy per level, budget and configuration; the best configuration
    per (level, budget); compute-optimal's mean accuracy and efficiency ratio per budget."""
    q = spec.false_positive
    per_level: list[dict[int, dict[str, float]]] = []
    for p, g in zip(spec.levels, spec.beam_gain, strict=True):
        rows: dict[int, dict[str, float]] = {}
        for b in budgets:
            rows[b] = {"best_of_n:selection=weighted": weighted(p, q, b),
                       "best_of_n:selection=majority": majority(p, b),
                       "best_of_n:selection=naive": naive(p, q, b)}
            if b in spec.beam_budgets:
                rows[b]["beam:width=4"] = beam(g, b)
        per_level.append(rows)
    bon_curve = np.array([np.mean([weighted(p, q, n) for p in spec.levels])
                          for n in range(1, spec.k + 1)])
    best = {b: [max(lv[b], key=lambda key: lv[b][key]) for lv in per_level] for b in budgets}
    co = {b: float(np.mean([lv[b][best[b][i]] for i, lv in enumerate(per_level)]))
          for b in budgets}
    return {"per_level": per_level, "best": best, "compute_optimal": co,
            "efficiency": {b: needed_n(bon_curve, co[b]) / b for b in budgets},
            "bon_curve": bon_curve.tolist()}


def write_synthetic(spec: SyntheticSpec, path: str | Path) -> Path:
    rng = np.random.default_rng(spec.seed)
    path = Path(path)
    if path.exists():
        path.unlink()
    searches = ";".join(["beam:" + ",".join(map(str, spec.beam_budgets))])
    w = BankWriter(path, new_header(model="synthetic", dataset="synthetic",
                                    config={**asdict(spec), "chains": 0, "length": 1,
                                            "searches": searches}))
    for i in range(spec.problems):
        lv = spec.level_of(i)
        p, g = spec.levels[lv], spec.beam_gain[lv]
        uid = f"synthetic/{i}"
        base = {"uid": uid, "index": i, "reference": "R", "level": lv + 1}
        right = rng.random(spec.k) < p
        fp = rng.random(spec.k) < spec.false_positive
        samples = [{"text": "", "answer": "R" if ok else f"w{j}", "correct": bool(ok),
                    "score": 1.0 if ok or f else 0.0, "scores": [], "tokens": 0}
                   for j, (ok, f) in enumerate(zip(right, fp, strict=True))]
        w.append({**base, "unit": "samples", "samples": samples})
        for b in spec.beam_budgets:
            ok = bool(rng.random() < beam(g, b))
            w.append({**base, "unit": f"beam:{b}", "strategy": "beam", "budget": b,
                      "answer": "R" if ok else "x", "correct": ok,
                      "candidates": [{"answer": "R" if ok else "x", "score": 1.0,
                                      "correct": ok}]})
    return path
