"""Fitting a policy's table from calibration outcomes (a grid of configurations run per
problem and budget; agent.control.fitting reads them from calibration runs).

`fit_policy`: for each budget and bin, the grid configuration with the highest mean success
over the calibration problems in that bin (ties: fewer tokens, then name). A bin with no
problems copies its nearest bin's row (noted). K-fold cross-validation over problems (Snell
et al. used 2 folds) estimates the held-out accuracy of the per-bin argmax and of the best
single configuration per budget; both are stored in `metadata["cv"]`. `config_key` names a
configuration ("beam:n_beams=4,width=2").
Not handled: the policy file (agent.control.policy), fitting from a bank
(agent.banks.policy_fit).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from worldplan.agent.control.difficulty import N_BINS, oracle_bins
from worldplan.agent.control.policy import DEFAULT_PROBE, Policy, PolicyEntry


@dataclass(frozen=True)
class Outcome:
    """One calibration result: a grid configuration on one problem at one budget."""

    uid: str
    config: str  # the grid key, e.g. "revisions:per_chain=2"
    strategy: str
    params: dict[str, Any]
    budget: int
    success: bool
    tokens: float  # completion tokens, probe included


Table = dict[tuple[int | None, int], PolicyEntry]


def argmax_table(outcomes: Sequence[Outcome], bins: Mapping[str, int],
                 uids: Iterable[str] | None = None) -> Table:
    """(bin, budget) -> best configuration over the given problems (all when None)."""
    keep = set(bins) if uids is None else set(uids)
    # (bin, budget, config) -> [successes], [tokens]
    acc: dict[tuple[int | None, int, str], list[tuple[bool, float]]] = defaultdict(list)
    spec: dict[str, tuple[str, dict[str, Any]]] = {}
    for o in outcomes:
        if o.uid not in keep or o.uid not in bins:
            continue
        spec[o.config] = (o.strategy, o.params)
        for b in (bins[o.uid], None):
            acc[(b, o.budget, o.config)].append((o.success, o.tokens))
    table: Table = {}
    for budget in sorted({o.budget for o in outcomes}):
        for b in [None, *range(1, N_BINS + 1)]:
            scored = []
            for (bb, bu, cfg), rows in acc.items():
                if bb == b and bu == budget:
                    mean = sum(s for s, _ in rows) / len(rows)
                    toks = sum(t for _, t in rows) / len(rows)
                    scored.append((-mean, toks, cfg, mean, len(rows)))
            if not scored:
                continue
            _, toks, cfg, mean, n = min(scored)
            table[(b, budget)] = PolicyEntry(b, budget, spec[cfg][0], dict(spec[cfg][1]),
                                             round(mean, 4), n, round(toks, 1))
    _fill_empty(table)
    return table


def _fill_empty(table: Table) -> None:
    for budget in sorted({k[1] for k in table}):
        have = [b for b in range(1, N_BINS + 1) if (b, budget) in table]
        if not have:
            continue
        for b in range(1, N_BINS + 1):
            if (b, budget) not in table:
                near = min(have, key=lambda h: (abs(h - b), h))
                e = table[(near, budget)]
                table[(b, budget)] = PolicyEntry(b, budget, e.strategy, dict(e.params),
                                                 None, 0, None,
                                                 f"no calibration problem in bin {b}: "
                                                 f"copied from bin {near}")


def cross_validate(outcomes: Sequence[Outcome], bins: Mapping[str, int], *, folds: int,
                   seed: int) -> dict[str, Any]:
    """Held-out accuracy per budget of the per-bin argmax vs the best single configuration."""
    uids = sorted(bins)
    random.Random(seed).shuffle(uids)
    k = max(2, min(folds, len(uids)))
    by_key = {(o.uid, o.budget, o.strategy, _params_key(o.params)): o.success for o in outcomes}
    res: dict[int, dict[str, list[float]]] = defaultdict(lambda: {"binned": [], "marginal": []})
    for f in range(k):
        test = uids[f::k]
        table = argmax_table(outcomes, bins, [u for u in uids if u not in set(test)])
        for (b, budget), e in table.items():
            key = "marginal" if b is None else "binned"
            for u in test:
                if b is not None and bins[u] != b:
                    continue
                got = by_key.get((u, budget, e.strategy, _params_key(e.params)))
                if got is not None:
                    res[budget][key].append(float(got))
    return {"folds": k, "seed": seed, "per_budget": {
        str(bu): {name: (round(sum(v) / len(v), 4) if v else None) for name, v in r.items()}
        | {"n": len(r["binned"])} for bu, r in sorted(res.items())}}


def _params_key(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def config_key(strategy: str, params: Mapping[str, Any]) -> str:
    """A grid configuration's name: "beam:n_beams=4,width=2"."""
    if not params:
        return strategy
    return strategy + ":" + ",".join(f"{k}={params[k]}" for k in sorted(params))


def fit_policy(outcomes: Sequence[Outcome], pass_rates: Mapping[str, float], *,
               folds: int = 2, seed: int = 0, probe: Mapping[str, Any] | None = None,
               predictor: dict[str, Any] | None = None, domain: str = "math",
               metadata: dict[str, Any] | None = None) -> Policy:
    """The per-bin argmax policy over all problems, with cross-validation in its metadata."""
    if not outcomes:
        raise ValueError("no calibration outcomes to fit a policy from")
    missing = {o.uid for o in outcomes} - set(pass_rates)
    if missing:
        raise ValueError(f"{len(missing)} problems have outcomes but no pass@1 (e.g. "
                         f"{sorted(missing)[0]!r}): was the probe phase of calibration run?")
    bins, cuts = oracle_bins(pass_rates)
    table = argmax_table(outcomes, bins)
    meta = dict(metadata or {})
    meta["cv"] = cross_validate(outcomes, bins, folds=folds, seed=seed)
    meta["problems_per_bin"] = {str(b): sum(1 for v in bins.values() if v == b)
                                for b in range(1, N_BINS + 1)}
    entries = sorted(table.values(), key=lambda e: (e.budget, -1 if e.bin is None else e.bin))
    return Policy(entries, cuts, {**DEFAULT_PROBE, **dict(probe or {})}, predictor, domain,
                  meta)
