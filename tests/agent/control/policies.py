"""Hand-built policies and outcomes for the controller tests (no model, no database)."""

from __future__ import annotations

from worldplan.agent.control.grid_fit import Outcome
from worldplan.agent.control.policy import Policy, PolicyEntry


def table_policy() -> Policy:
    """Budgets 4 and 16; bins 1-2 best-of-N, 3-5 beam at 16; revisions everywhere at 4."""
    entries = [PolicyEntry(None, 4, "best_of_n", {}, 0.5, 10),
               PolicyEntry(None, 16, "best_of_n", {}, 0.6, 10)]
    for b in range(1, 6):
        entries.append(PolicyEntry(b, 4, "revisions", {"per_chain": 2}, 0.4, 2))
        entries.append(PolicyEntry(b, 16, "best_of_n" if b <= 2 else "beam",
                                   {} if b <= 2 else {"n_beams": 4, "width": 2}, 0.7, 2))
    return Policy(entries, cuts=[0.1, 0.3, 0.5, 0.7], metadata={"fitted_on": "hand-built"})


def outcomes_with_known_best() -> tuple[list[Outcome], dict[str, float]]:
    """10 problems, 2 per bin; "a" wins bins 1-2, "b" wins bins 3-5, at budgets 4 and 8."""
    rates = {f"u{i}": r for i, r in enumerate([0.95, 0.9, 0.75, 0.7, 0.5, 0.45, 0.3, 0.25,
                                                0.05, 0.0])}
    out = []
    for i, uid in enumerate(rates):
        easy = i < 4
        for budget in (4, 8):
            out.append(Outcome(uid, "a", "best_of_n", {}, budget, easy, 100.0))
            out.append(Outcome(uid, "b:width=2", "beam", {"width": 2}, budget, not easy, 90.0))
    return out, rates
