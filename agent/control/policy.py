"""The compute-optimal policy: a table (difficulty bin, budget) -> strategy + hyperparameters,
fitted from calibration outcomes, saved and loaded as versioned JSON.

A row with `bin = None` is the marginal choice for its budget (best over all problems): the
controller uses it when the difficulty is unknown (no probe fitted in the budget). Budgets are
generations per problem (or per step) with the probe included.

Fitting (`fit_policy`): for each budget and bin, the grid configuration with the highest mean
success over the calibration problems in that bin (ties: fewer tokens, then name). A bin with
no problems copies its nearest bin's row (noted). K-fold cross-validation over problems
(Snell et al. used 2 folds) estimates the held-out accuracy of the per-bin argmax and of the
best single configuration per budget; both are stored in `metadata["cv"]`.

File format: {"format": FORMAT, "version": VERSION, "domain", "cuts", "probe", "predictor",
"entries": [{"bin", "budget", "strategy", "params", "accuracy", "n", "tokens", "note"}],
"metadata"}, read and written by agent.control.versioned. `load_policy` raises `PolicyError`
naming the file and what is wrong: a policy that loads is well typed (bins null or 1-5,
positive integer budgets, finite numbers, ascending cuts).
Not handled: reading traces (agent.control.fitting), choosing at decision time
(agent.control.decide).
"""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from worldplan.agent.control.difficulty import DEFAULT_CUTS, N_BINS, oracle_bins
from worldplan.agent.control.predictor import PredictorError, model_from_dict
from worldplan.agent.control.versioned import (
    VersionedFormat,
    check_versioned,
    read_versioned,
    stamped,
    write_versioned,
)

FORMAT = "worldplan-policy"
VERSION = 1
DEFAULT_PROBE: dict[str, Any] = {"n": 2, "max_fraction": 0.5}
PROBE_STATISTICS = ("verifier_mean", "verifier_min", "verifier_max", "agreement")
POLICIES = Path(__file__).resolve().parents[1] / "policies"  # agent/policies: bundled files
DEFAULT_POLICY = POLICIES / "default.json"


class PolicyError(ValueError):
    """A policy file is missing, corrupt, or of another format or version."""


POLICY_FILE = VersionedFormat(FORMAT, VERSION, "policy", "worldplan policy", PolicyError,
                              "Refit it with `worldplan fit-policy`.")


@dataclass(frozen=True)
class PolicyEntry:
    bin: int | None  # 1 (easiest) .. 5; None = any difficulty
    budget: int  # generations, probe included
    strategy: str
    params: dict[str, Any] = field(default_factory=dict)
    accuracy: float | None = None  # mean success in calibration
    n: int = 0  # calibration problems behind the row
    tokens: float | None = None  # mean completion tokens per problem (probe included)
    note: str = ""


@dataclass
class Policy:
    entries: list[PolicyEntry]
    cuts: list[float] = field(default_factory=lambda: list(DEFAULT_CUTS))
    probe: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PROBE))
    predictor: dict[str, Any] | None = None  # agent.control.predictor JSON, if fitted
    domain: str = "math"
    metadata: dict[str, Any] = field(default_factory=dict)
    version: int = VERSION
    source: str = ""  # where it was loaded from (not saved)

    @property
    def budgets(self) -> list[int]:
        return sorted({e.budget for e in self.entries})

    def lookup(self, bin: int | None, budget: int) -> PolicyEntry | None:
        for e in self.entries:
            if e.bin == bin and e.budget == budget:
                return e
        return None

    def _body(self) -> dict[str, Any]:
        return {"domain": self.domain, "cuts": self.cuts, "probe": self.probe,
                "predictor": self.predictor, "entries": [asdict(e) for e in self.entries],
                "metadata": self.metadata}

    def to_dict(self) -> dict[str, Any]:
        return stamped(POLICY_FILE, self._body(), self.version)

    def save(self, path: str | Path) -> Path:
        return write_versioned(path, POLICY_FILE, self._body(), version=self.version)


def policy_from_dict(d: Any, *, where: str = "policy") -> Policy:
    """Validate a policy's JSON object and build it (raises PolicyError)."""
    return _policy(check_versioned(d, POLICY_FILE, where=where), where)


def _policy(d: dict[str, Any], where: str) -> Policy:
    """Build a policy from a JSON object of the right format and version."""
    try:
        entries = [_entry(e) for e in d["entries"]]
        cuts = [_number(c, "a cut") for c in d.get("cuts", DEFAULT_CUTS)]
        probe = {**DEFAULT_PROBE, **dict(d.get("probe") or {})}
        probe["n"] = int(probe["n"])
        probe["max_fraction"] = _number(probe["max_fraction"], "probe.max_fraction")
        if probe.get("cuts") is not None:
            probe["cuts"] = [_number(c, "a probe cut") for c in probe["cuts"]]
            if probe["cuts"] != sorted(probe["cuts"]) or len(probe["cuts"]) != N_BINS - 1:
                raise ValueError(f"probe.cuts must be {N_BINS - 1} ascending numbers")
            if not isinstance(probe.get("verifier", ""), str):
                raise ValueError("probe.verifier must be a verifier kind")
            if probe.get("statistic", "verifier_mean") not in PROBE_STATISTICS:
                raise ValueError(f"probe.statistic must be one of {PROBE_STATISTICS}")
        metadata = dict(d.get("metadata") or {})
    except (KeyError, TypeError, ValueError, OverflowError) as e:  # OverflowError: int(inf)
        raise PolicyError(f"{where}: bad or missing field ({type(e).__name__}: {e})") from e
    if not entries:
        raise PolicyError(f"{where}: the policy has no entries")
    if cuts != sorted(cuts):
        raise PolicyError(f"{where}: cuts must be ascending, got {cuts}")
    if not any(e.bin is None for e in entries):
        raise PolicyError(f"{where}: no row for unknown difficulty (bin null)")
    predictor = d.get("predictor")
    if predictor is not None:

        try:
            model_from_dict(predictor, where=f"{where}: predictor")
        except PredictorError as e:
            raise PolicyError(str(e)) from e
    return Policy(entries, cuts, probe, predictor, str(d.get("domain", "math")), metadata,
                  VERSION, where)


def _number(x: Any, what: str) -> float:
    """A finite JSON number (not a boolean) as a float; ValueError otherwise."""
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        raise ValueError(f"{what} must be a finite number, got {x!r}")
    return float(x)


def _entry(e: Any) -> PolicyEntry:
    if not isinstance(e, dict):
        raise TypeError(f"an entry must be an object, got {e!r}")
    b = e["bin"]
    if b is not None and not (type(b) is int and 1 <= b <= N_BINS):
        raise ValueError(f"bin must be null or 1..{N_BINS}, got {b!r}")
    budget = e["budget"]
    if type(budget) is not int or budget < 1:
        raise ValueError(f"budget must be a positive integer, got {budget!r}")
    if not isinstance(e["strategy"], str) or not e["strategy"]:
        raise ValueError(f"strategy must be a name, got {e['strategy']!r}")
    params = e.get("params") or {}
    if not isinstance(params, dict):
        raise TypeError(f"params must be an object, got {params!r}")
    accuracy, tokens, n = e.get("accuracy"), e.get("tokens"), int(e.get("n", 0))
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    return PolicyEntry(b, budget, e["strategy"], params,
                       None if accuracy is None else _number(accuracy, "accuracy"), n,
                       None if tokens is None else _number(tokens, "tokens"),
                       str(e.get("note", "")))


def load_policy(path: str | Path | None = None) -> Policy:
    """Load a policy file (default: the bundled agent/policies/default.json)."""
    path = Path(path) if path else DEFAULT_POLICY
    return _policy(read_versioned(path, POLICY_FILE), str(path))


# ---- fitting ------------------------------------------------------------------------------

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
