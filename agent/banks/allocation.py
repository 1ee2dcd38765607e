"""Spending a batch budget where it pays: budgets per problem that maximise expected accuracy
subject to an average (Damani et al. 2024's allocation by marginal gains), and a sequential
test that stops sampling a problem once its answers agree (adaptive consistency, Aggarwal et
al. 2023).

`allocate(options, average, cap)`: each problem has options (cost, expected accuracy) — its
predicted bin's accuracy-vs-budget curve; every problem starts at its cheapest option, then
the upgrade with the largest gain per unit of cost (along the upper concave hull of the
problem's options, so a dip in a curve does not stop it) is taken while the total stays
within `average` x problems and no problem passes `cap`. The total is never exceeded.

`early_stopped(order, classes, weights, cap, threshold, min_samples)` walks one order of a
problem's samples, stopping when the answers agree (agent.control.agreement: the test live
best-of-N uses), and returns how many it drew and the answer class it would choose (a vote
over the drawn ones).
Not handled: reallocating while the batch runs (offline: the expected cost of early stopping
enters the options instead).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from worldplan.agent.control.agreement import leaders_agreed, tally


def _hull(options: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the upper concave hull of (cost, accuracy), by increasing cost, starting
    at the cheapest option."""
    order = sorted(range(len(options)), key=lambda i: (options[i][0], -options[i][1]))
    hull: list[int] = []
    for i in order:
        if hull and options[i][1] <= options[hull[-1]][1]:
            continue  # costs more, gains nothing
        while len(hull) >= 2:
            (c1, a1), (c2, a2) = options[hull[-2]], options[hull[-1]]
            c3, a3 = options[i]
            if (a2 - a1) * (c3 - c1) <= (a3 - a1) * (c2 - c1):  # middle point under the chord
                hull.pop()
            else:
                break
        hull.append(i)
    return hull


def allocate(options: Sequence[Sequence[tuple[float, float]]], average: float, *,
             cap: float | None = None) -> list[int]:
    """Per problem, the index of its chosen option; sum of costs <= average x problems."""
    hulls = [[i for i in _hull(opts) if cap is None or opts[i][0] <= cap] for opts in options]
    if any(not h for h in hulls):
        raise ValueError("a problem has no option within the cap")
    pos = [0] * len(options)
    total = sum(options[p][h[0]][0] for p, h in enumerate(hulls))
    limit = average * len(options) + 1e-9
    if total > limit:
        raise ValueError(f"the cheapest options cost {total / len(options):.2f} on average, "
                         f"more than {average}")
    while True:
        best, best_rate = None, 0.0
        for p, h in enumerate(hulls):
            if pos[p] + 1 < len(h):
                (c0, a0), (c1, a1) = options[p][h[pos[p]]], options[p][h[pos[p] + 1]]
                rate = (a1 - a0) / (c1 - c0)
                if total + c1 - c0 <= limit and rate > best_rate:
                    best, best_rate = p, rate
        if best is None:
            break
        h = hulls[best]
        total += options[best][h[pos[best] + 1]][0] - options[best][h[pos[best]]][0]
        pos[best] += 1
    return [h[i] for h, i in zip(hulls, pos, strict=True)]


def early_stopped(order: Sequence[int], classes: np.ndarray, weights: np.ndarray, cap: int,
                  threshold: float, min_samples: int = 2, wave: int = 2) -> tuple[int, int]:
    """(samples drawn, chosen class or -1) when sampling `order` in waves of `wave` stops at
    agreement or at the cap, as live best-of-N does (agent.strategies.best_of_n: the test
    after each wave; votes weighted, by counts when no sample has a positive weight)."""
    votes: dict[int, float] = {}
    counts: dict[int, int] = {}
    drawn = 0
    for i in order[:cap]:
        drawn += 1
        if classes[i] >= 0:
            c = int(classes[i])
            votes[c] = votes.get(c, 0.0) + float(weights[i])
            counts[c] = counts.get(c, 0) + 1
        if (drawn >= min_samples and drawn % max(1, wave) == 0
                and leaders_agreed(tally(votes, counts), threshold)):
            break
    if not votes:
        return drawn, -1
    final = tally(votes, counts)
    return drawn, max(final, key=lambda c: final[c])
