"""`worldplan web-controller fit`: the web policy fitted from counterfactual records.

From the (state, arm) records of `worldplan web-controller collect`
(agent.web.counterfactual_rows), on the states that have every arm (agent.web.controller_data):
1. the difficulty predictor: a logistic regression from the step's features
   (agent.web.difficulty) to the act arm's success; cuts at the quantiles of its predicted
   p_solve over the states;
2. the (difficulty bin, step allowance) -> route table: for each bin and allowance, the arm
   with the highest mean success over the bin's states (ties: fewer tokens, then name), an
   arm over the allowance counting as acting (agent.control.grid_fit.argmax_table);
3. leave-task-out cross-validation of both steps together against always-act, the best
   single arm and the per-state oracle (agent.web.controller_cv), stored in the metadata.
The result is a web policy (`domain` "web", strategies are routes, budgets are step
allowances in tokens, its `cuts` and `predictor`) that agent.web.router.load_web_policy
accepts and WebDomain's estimator uses (agent.web.difficulty.WebDifficulty.of), with
metadata saying what it was fitted on: tasks, seeds, states, arms, model, token unit.
`cv_table(cv)` renders the cross-validation as text. Not handled: collecting the records.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from worldplan.agent.control.difficulty import N_BINS
from worldplan.agent.control.grid_fit import argmax_table
from worldplan.agent.control.policy import Policy
from worldplan.agent.web.controller_cv import cross_validate_controller
from worldplan.agent.web.controller_data import (
    bins_of,
    fit_difficulty,
    grid_outcomes,
    states_of,
)
from worldplan.agent.web.counterfactual_rows import Collected

BUDGET_UNITS = {"completion": "generated (completion) tokens this step's search may spend "
                              "(the step allowance)",
                "total": "uncached prompt + completion tokens this step's search may spend"}


@dataclass(frozen=True)
class WebFitSettings:
    allowances: tuple[int, ...] = (1, 500, 1000, 2000)  # step allowances (tokens of `unit`)
    unit: str = "total"  # total (uncached prompt + completion) | completion: the arm's tokens
    folds: int = 0  # 0: leave one task out; k: GroupKFold over tasks
    l2: float = 1.0  # the predictor's L2 penalty
    seed: int = 0  # of the bootstrap
    confidence: float = 0.9  # of the intervals
    keep_unrestored: bool = False  # keep states whose restored page differed


def fit_web_policy(collected: Collected, settings: WebFitSettings = WebFitSettings(), *,
                   note: str = "", cv: bool = True) -> Policy:
    """The fitted web policy (see the module docstring); ValueError when the records
    cannot support a fit (no act arm, fewer than 2 complete states, 2 tasks for the CV)."""
    if not settings.allowances or min(settings.allowances) < 1:
        raise ValueError(f"allowances must be positive integers, got {settings.allowances}")
    data = states_of(collected.arms.values(), keep_unrestored=settings.keep_unrestored)
    states = data.states
    tasks = sorted({s.task for s in states})
    model = fit_difficulty(states, l2=settings.l2, metadata={"tasks": len(tasks)})
    bins = bins_of(model, states)
    allowances = sorted(set(settings.allowances))
    table = argmax_table(grid_outcomes(states, allowances, settings.unit), bins)
    entries = sorted(table.values(), key=lambda e: (e.budget, -1 if e.bin is None else e.bin))
    models = sorted({r.model for s in states for r in s.arms.values() if r.model})
    meta: dict[str, Any] = {
        "fitted_on": f"{len(states)} states of {len(tasks)} web tasks x "
                     f"{len({s.seed for s in states})} seed(s), {len(data.arm_keys)} arms, "
                     f"model {', '.join(models) or 'unknown'}",
        "tasks": tasks, "seeds": sorted({s.seed for s in states}), "states": len(states),
        "dropped_states": data.dropped, "arms": data.arm_keys, "models": models,
        "budget_unit": BUDGET_UNITS[settings.unit], "routes": "act | revise | branch",
        "states_per_bin": {str(b): sum(1 for v in bins.values() if v == b)
                           for b in range(1, N_BINS + 1)},
        "act_success": sum(s.arms["act"].success for s in states) / len(states),
        "settings": {"allowances": allowances, "unit": settings.unit, "folds": settings.folds,
                     "l2": settings.l2},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "note": note}
    if cv:
        meta["cv"] = cross_validate_controller(
            states, allowances, unit=settings.unit, folds=settings.folds, l2=settings.l2,
            seed=settings.seed, confidence=settings.confidence)
    n = Counter(sum(int((c.get("info") or {}).get("count", 1)) for c in st.candidates)
                for st in collected.states.values()).most_common(1)
    probe = {"n": n[0][0] if n else 3, "max_fraction": 0.5}
    return Policy(entries, list(model.cuts), probe, model.to_dict(), "web", meta)


def cv_table(cv: dict[str, Any], arms: Sequence[str] = ()) -> str:
    """The cross-validation as a text table: success with its interval per allowance."""
    pct = int(round(100 * cv["confidence"]))
    lines = [f"leave-task-out CV: {cv['states']} states of {cv['tasks']} tasks, "
             f"{cv['folds']} folds; held-out success, {pct}% bootstrap intervals over "
             f"states (allowances in {cv['unit']} tokens)",
             f"{'allowance':>9}  {'controller':<22}{'always act':<22}{'best single':<22}"
             f"{'oracle':<22}{'ctrl - act':<24}{'ctrl - best':<24}"]
    for a, r in cv["per_allowance"].items():
        def show(k: str, r: dict[str, Any] = r) -> str:
            v = r[k]
            return f"{v['point']:+.3f} [{v['low']:+.3f}, {v['high']:+.3f}]" \
                if k.startswith("controller_") else \
                f"{v['point']:.3f} [{v['low']:.3f}, {v['high']:.3f}]"
        lines.append(f"{a:>9}  {show('controller'):<22}{show('always_act'):<22}"
                     f"{show('best_single'):<22}{show('oracle'):<22}"
                     f"{show('controller_minus_act'):<24}"
                     f"{show('controller_minus_best_single'):<24}")
        lines.append(f"{'':>9}  chosen: " + ", ".join(
            f"{k} x{v}" for k, v in sorted(r["chosen"].items())))
    if arms:
        lines.append("arms: " + "; ".join(arms))
    return "\n".join(lines)
