"""When have a problem's answers agreed? The sequential test of adaptive consistency
(Aggarwal et al. 2023), shared by live best-of-N (agent.strategies.best_of_n) and the bank's
offline evaluation (agent.banks.allocation).

With v1 and v2 the (weighted) votes of the leading and the second answer, the leader's
share of the two is Beta(v1 + 1, v2 + 1) a posteriori (a uniform prior); the answers have
agreed when P(share > 1/2) >= threshold. Worked example: 4 agreeing votes and none against
give 1 - 0.5^5 = 0.969, so at threshold 0.95 sampling stops after 4 unanimous samples.
`tally` and `leaders_agreed` put the votes of a set of samples to the test.
Not handled: priors other than uniform, more than the two leading answers.
"""

from __future__ import annotations

from collections.abc import Mapping

from scipy import stats


def agreed(v1: float, v2: float, threshold: float) -> bool:
    """Is the leader's share of the two leading answers above 1/2 with that probability?"""
    return float(stats.beta.sf(0.5, v1 + 1.0, v2 + 1.0)) >= threshold


def tally(weights: Mapping[int, float], counts: Mapping[int, int]) -> dict[int, float]:
    """The votes to test and choose by: the (score-)weighted ones, or the counts when no
    answer has a positive weight (nothing was verified), as weighted selection does."""
    if weights and max(weights.values()) > 0.0:
        return dict(weights)
    return {a: float(k) for a, k in counts.items()}


def leaders_agreed(votes: Mapping[int, float], threshold: float) -> bool:
    """`agreed` on the two leading answers of `votes` (False with no vote at all)."""
    top = sorted(votes.values(), reverse=True) + [0.0, 0.0]
    return bool(votes) and agreed(top[0], top[1], threshold)
