"""The strategy configurations a bank can evaluate, and each one's accuracy on one problem.

A `Config` is what the controller can choose: a live strategy and its parameters (the
names and parameters of agent.strategies, so a policy fitted from a bank runs as it was
evaluated). At a budget of B generation-equivalents (verifier free, as in Snell et al.):
- best_of_n (selection naive | majority | weighted): B of the K samples, every subset
  averaged (agent.banks.estimators);
- revisions (chains=c, per_chain=l, c x l = B): c of the P chains, every subset averaged,
  each cut to its first l attempts; the best-scored attempt of each chain (the later one on
  ties, unjudged ones last), then a weighted vote across chains (agent.strategies.revisions);
- beam (n_beams=N, width 4) and dvts (n=N, width 2): the search built at budget N = B, or,
  after a probe, the largest built N <= B - probe (the live controller then runs exactly
  that search and leaves the rest unspent).
With a probe (`probe`: pool indices of the probe's samples, the last of the K), the
configuration draws from the other samples and chains, and the final answer is a weighted
vote over its candidates and the probe's samples, as agent.strategies.compute_optimal does.
`accuracy` is None when the bank cannot evaluate the configuration at that budget.
Not handled: choosing among configurations (agent.banks.evaluate).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from worldplan.agent.banks.estimators import MAX_SUBSETS, best_of_n, select_accuracy
from worldplan.agent.banks.problems import ProblemData
from worldplan.agent.control.grid_fit import config_key

SELECTIONS = ("weighted", "majority", "naive")
BEAM_WIDTH = 4


@dataclass(frozen=True)
class Config:
    strategy: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def key(self) -> str:
        return config_key(self.strategy, dict(self.params))

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def family(self) -> str:
        """What a curve groups: best_of_n:weighted, revisions, beam, dvts."""
        p = self.param_dict
        return f"best_of_n:{p['selection']}" if self.strategy == "best_of_n" else self.strategy


def bon(selection: str) -> Config:
    return Config("best_of_n", (("selection", selection),))


SIZE = {"beam": "n_beams", "dvts": "n"}  # the live strategies' size parameter
WIDTH = {"beam": BEAM_WIDTH, "dvts": 2}  # as built (agent.runs.bank_build.WIDTHS)


def configs_at(budget: int, *, chains: int, length: int,
               searches: Sequence[tuple[str, int]], exact: bool = True) -> list[Config]:
    """Every configuration the bank shape allows at `budget`. A search is the one built at
    exactly `budget` (`exact`), or else the largest built within it (after a probe), with
    its size in its parameters so that the live controller runs that very search."""
    out = [bon(s) for s in SELECTIONS]
    for c in range(1, chains + 1):
        if budget % c == 0 and 2 <= budget // c <= length:
            out.append(Config("revisions", (("chains", c), ("per_chain", budget // c))))
    for strategy in sorted({s for s, _ in searches}):
        built = [n for s, n in searches if s == strategy and n <= budget]
        if built and (not exact or budget in built):
            out.append(Config(strategy, ((SIZE[strategy], max(built)),
                                         ("width", WIDTH[strategy]))))
    return out


def accuracy(pd: ProblemData, cfg: Config, budget: int, probe: Sequence[int] = (), *,
             max_subsets: int = MAX_SUBSETS) -> float | None:
    """Expected accuracy of `cfg` with `budget` generation-equivalents on one problem, the
    `probe` samples joining its final selection; None if the bank cannot say."""
    if budget < 1:
        return None
    p = cfg.param_dict
    if cfg.strategy == "best_of_n":
        pool = [i for i in range(pd.k) if i not in set(probe)]
        if budget > len(pool):
            return None
        return best_of_n(pd.classes, pd.scores, pd.correct, budget, p["selection"],
                         pool=pool, fixed=probe, seed=budget,
                         max_subsets=max_subsets)
    if cfg.strategy == "revisions":
        return _revisions(pd, int(p["chains"]), int(p["per_chain"]), budget, probe)
    size = int(p[SIZE[cfg.strategy]])
    if size > budget or (cfg.strategy, size) not in pd.searches:
        return None
    search = pd.searches[(cfg.strategy, size)]
    if not probe:
        return float(search.correct)
    rows = np.array([search.candidates + list(probe)], dtype=int)
    return select_accuracy(rows, pd.classes, pd.scores, pd.correct, "weighted")


def _revisions(pd: ProblemData, c: int, per_chain: int, budget: int,
               probe: Sequence[int]) -> float | None:
    if c * per_chain != budget:
        return None
    usable = [ch for ch in pd.chains if ch[0] not in set(probe) and len(ch) >= per_chain]
    if len(usable) < c:
        return None
    finals = [_best_in_chain(pd, ch[:per_chain]) for ch in usable]
    rows = np.array([[finals[i] for i in combo] + list(probe)
                     for combo in itertools.combinations(range(len(usable)), c)], dtype=int)
    return select_accuracy(rows, pd.classes, pd.scores, pd.correct, "weighted")


def _best_in_chain(pd: ProblemData, chain: list[int]) -> int:
    """agent.strategies.revisions.best_in_chain: highest score, later on ties, unjudged
    last."""
    return max(reversed(chain), key=lambda i: -1.0 if np.isnan(pd.scores[i])
               else float(pd.scores[i]))


def completion_tokens(pd: ProblemData, cfg: Config, budget: int,
                      probe: Sequence[int] = ()) -> float | None:
    """Expected completion tokens of `cfg` at `budget` on one problem (the probe's
    included): what the generation-equivalents cost in the token unit."""
    own = float(pd.tokens[list(probe)].sum()) if probe else 0.0
    p = cfg.param_dict
    if cfg.strategy == "best_of_n":
        pool = [i for i in range(pd.k) if i not in set(probe)]
        return own + budget * float(pd.tokens[pool].mean()) if budget <= len(pool) else None
    if cfg.strategy == "revisions":
        c, per = int(p["chains"]), int(p["per_chain"])
        usable = [ch for ch in pd.chains if ch[0] not in set(probe) and len(ch) >= per]
        if c * per != budget or len(usable) < c:
            return None
        return own + c * float(np.mean([pd.tokens[ch[:per]].sum() for ch in usable]))
    size = int(p[SIZE[cfg.strategy]])
    found = pd.searches.get((cfg.strategy, size))
    return own + found.tokens if found is not None and size <= budget else None
