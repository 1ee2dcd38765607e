"""The compute-optimal policy: a table (difficulty bin, budget) -> strategy + hyperparameters,
saved and loaded as versioned JSON.

A row with `bin = None` is the marginal choice for its budget (best over all problems): the
controller uses it when the difficulty is unknown (no probe fitted in the budget). Budgets are
generations per problem (or per step) with the probe included.

File format: {"format": FORMAT, "version": VERSION, "domain", "cuts", "probe", "predictor",
"entries": [{"bin", "budget", "strategy", "params", "accuracy", "n", "tokens", "note"}],
"metadata"}, read and written by agent.control.versioned. `load_policy` raises `PolicyError`
naming the file and what is wrong: a policy that loads is well typed (bins null or 1-5,
positive integer budgets, finite numbers, ascending cuts).
`Policy.row(bin, budget)` is the row the controller uses: the bin's, else the bin-free one.
Not handled: fitting (agent.control.grid_fit from calibration outcomes, agent.banks.policy_fit
from a bank), reading traces (agent.control.fitting), choosing at decision time
(agent.control.decide).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from worldplan.agent.control.difficulty import DEFAULT_CUTS, N_BINS
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

    def row(self, bin: int | None, budget: int) -> PolicyEntry | None:
        """The row the controller uses: the bin's, else the bin-free one (its `bin` says
        which it is)."""
        found = self.lookup(bin, budget) if bin is not None else None
        return found if found is not None else self.lookup(None, budget)

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
