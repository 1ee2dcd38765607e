"""Leave-task-out cross-validation of the fitted web controller.

Folds group the states by task (scikit-learn's LeaveOneGroupOut, or GroupKFold with
`folds` > 0 and fewer folds than tasks): no task has states on both sides, since a task's
states share its page layout and difficulty. In each fold the whole procedure is refitted
on the training tasks (the difficulty predictor, its cuts, the (bin, allowance) table;
agent.web.controller_data, agent.control.grid_fit.argmax_table) and applied to every
held-out state at every allowance A, against:
- always act (the act arm);
- the best single arm at A (the table's bin-free row, fitted on the training tasks);
- the oracle: the best arm for that very state (an upper bound no controller reaches).
An arm's held-out outcome at A is `controller_data.value` (an unaffordable arm falls back
to acting). Each figure is the mean success over held-out states with a bootstrap interval
(traces.intervals, 90% by default); the controller's gains over always-act and over the
best single arm are paired differences on the same states.
Not handled: resampling tasks rather than states (the intervals are over states, which
share tasks: they are narrower than a task-level interval would be).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut

from worldplan.agent.control.grid_fit import argmax_table
from worldplan.agent.web.controller_data import (
    ACT,
    StateData,
    arm_of_entry,
    bins_of,
    fit_difficulty,
    grid_outcomes,
    value,
)
from worldplan.traces.intervals import difference_ci, mean_ci


def task_splits(tasks: Sequence[str], folds: int = 0) -> list[tuple[list[int], list[int]]]:
    """(train, test) state indices with no task on both sides: one fold per task
    (`folds` <= 0 or >= the tasks), else `folds` groups of tasks."""
    groups = np.asarray(tasks)
    distinct = len(set(tasks))
    if distinct < 2:
        raise ValueError(f"leave-task-out cross-validation needs 2 tasks, got {distinct}")
    splitter = (LeaveOneGroupOut() if folds <= 0 or folds >= distinct
                else GroupKFold(n_splits=folds))
    return [(tr.tolist(), te.tolist())
            for tr, te in splitter.split(np.zeros(len(tasks)), groups=groups)]


def cross_validate_controller(states: Sequence[StateData], allowances: Sequence[int], *,
                              unit: str = "total", folds: int = 0, l2: float = 1.0,
                              seed: int = 0, confidence: float = 0.9) -> dict[str, Any]:
    """Held-out success per allowance of the controller and its baselines (see above)."""
    splits = task_splits([s.task for s in states], folds)
    got: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    chosen: dict[int, Counter[str]] = defaultdict(Counter)
    fold_tasks = []
    for train_idx, test_idx in splits:
        train = [states[i] for i in train_idx]
        test = [states[i] for i in test_idx]
        fold_tasks.append(sorted({s.task for s in test}))
        model = fit_difficulty(train, l2=l2)
        table = argmax_table(grid_outcomes(train, allowances, unit), bins_of(model, train))
        test_bins = bins_of(model, test)
        for a in allowances:
            best = table[(None, a)]
            best_arm = arm_of_entry(train, best.strategy, best.params)
            for s in test:
                row = table.get((test_bins[s.uid], a), best)
                arm = arm_of_entry(train, row.strategy, row.params)
                chosen[a][arm] += 1
                g = got[a]
                g["controller"].append(float(value(s, arm, a, unit)[0]))
                g["always_act"].append(float(value(s, ACT, a, unit)[0]))
                g["best_single"].append(float(value(s, best_arm, a, unit)[0]))
                g["oracle"].append(float(max(value(s, k, a, unit)[0] for k in s.arms)))
    per: dict[str, Any] = {}
    for a in allowances:
        g = got[a]
        ci = {k: mean_ci(v, seed=seed, confidence=confidence).to_dict() for k, v in g.items()}
        ci["controller_minus_act"] = difference_ci(
            g["controller"], g["always_act"], seed=seed, confidence=confidence).to_dict()
        ci["controller_minus_best_single"] = difference_ci(
            g["controller"], g["best_single"], seed=seed, confidence=confidence).to_dict()
        per[str(a)] = {**ci, "chosen": dict(chosen[a]), "n": len(g["controller"])}
    return {"folds": len(splits), "groups": "task", "fold_tasks": fold_tasks,
            "states": len(states), "tasks": len({s.task for s in states}),
            "confidence": confidence, "seed": seed, "unit": unit, "per_allowance": per}
