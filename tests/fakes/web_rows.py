"""Synthetic counterfactual records whose best route arm is known by construction (for the
web controller's fitting tests; never a measure of the agent).

`synthetic(tasks, per_task)`: each task has `per_task` states with agreement cycling through
LEVELS = {0.2, 0.4, 0.6, 0.8, 1.0}, the other features constant. Acting succeeds when
agreement >= 0.8, revising (80 completion tokens) when >= 0.6, branching (120) always.
"""

from __future__ import annotations

from worldplan.agent.web.counterfactual_rows import ArmRecord, Collected

LEVELS = (0.2, 0.4, 0.6, 0.8, 1.0)
ARMS = {"act": ("act", {}, 0, 0.8), "revise:rounds=1": ("revise", {"rounds": 1}, 80, 0.6),
        "branch:depth=1,width=3": ("branch", {"depth": 1, "width": 3}, 120, 0.2)}


def synthetic(tasks: int = 6, per_task: int = 10) -> Collected:
    out = Collected()
    for t in range(tasks):
        for k in range(per_task):
            a = LEVELS[k % len(LEVELS)]
            f = {"agreement": a, "refs": 12.0, "step": 1.0, "last_error": 0.0}
            for key, (route, params, tokens, need) in ARMS.items():
                r = ArmRecord(f"task{t}", 0, k, key, route, params, max(tokens, 1), f,
                              a >= need - 1e-9, 1.0 if a >= need - 1e-9 else 0.0,
                              tokens + 30, tokens, 50, 40, 2, 1.0, "click('e1')",
                              "click('e1')", model="scripted")
                out.arms[r.key] = r
    return out
