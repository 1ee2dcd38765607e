"""Counterfactual records as fitting data: states with every arm's outcome, grid outcomes at
step allowances, and the difficulty predictor fitted on them.

- `states_of(arms)`: one `StateData` per sampled state that has a record for every arm
  (states missing an arm, e.g. from an interrupted collection, are counted and left out;
  so are states whose restored page differed from the base episode's, unless kept);
- `value(state, arm, allowance, unit)`: the arm's outcome at a step allowance A. The arm is
  affordable at A if its measured tokens (`unit` "total": uncached prompt + completion, the
  live budget's unit when it counts prompts; "completion": completion tokens alone) are
  <= A; otherwise its search would have run out and fallen back to acting on the
  proposals (WebDomain.search), so it counts as the act arm's outcome, at A tokens;
- `grid_outcomes(states, allowances, unit)`: those as agent.control.grid_fit outcomes, one
  per state x arm x allowance, so `argmax_table` fits the (bin, allowance) -> route table;
- `fit_difficulty(states)`: the difficulty predictor (agent.control.predictor, a logistic
  regression) from the state's features to the act arm's success, the features being those
  present in every training state; its cuts are the quantiles of its predictions over them
  (agent.control.difficulty.quantile_cuts), so the bins hold equal shares of the states.
Not handled: cross-validation (agent.web.controller_cv), the policy file
(agent.web.controller_fit).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from worldplan.agent.control.difficulty import bin_of, quantile_cuts
from worldplan.agent.control.grid_fit import Outcome
from worldplan.agent.control.predictor import DifficultyModel, fit_predictor
from worldplan.agent.web.counterfactual_rows import ArmRecord

ACT = "act"  # the act arm's key: the predictor's target and every search's fallback
UNITS = ("completion", "total")


@dataclass(frozen=True)
class StateData:
    uid: str  # "task|seed|step"
    task: str
    seed: int
    step: int
    features: dict[str, float]
    arms: dict[str, ArmRecord]  # arm key -> its record


@dataclass
class FitData:
    states: list[StateData]
    arm_keys: list[str]
    dropped: dict[str, int] = field(default_factory=dict)  # why states were left out


def states_of(records: Iterable[ArmRecord], *, keep_unrestored: bool = False) -> FitData:
    """States with every arm (see the module docstring); ValueError without an act arm."""
    by_state: dict[tuple[str, int, int], dict[str, ArmRecord]] = {}
    for r in records:
        by_state.setdefault((r.task, r.seed, r.step), {})[r.arm] = r
    keys = sorted({a for arms in by_state.values() for a in arms})
    if ACT not in keys:
        raise ValueError(f"no {ACT!r} arm among {keys}: it is the predictor's target and "
                         "the fallback of every search")
    routes = {(r.route, json.dumps(r.params, sort_keys=True)): r.arm
              for arms in by_state.values() for r in arms.values()}
    if len(routes) < len(keys):
        raise ValueError("arms that differ only in their allowance cannot be told apart in a "
                         "policy row: fit them from separate files")
    data = FitData([], keys, {"incomplete": 0, "unrestored": 0})
    for (task, seed, step), arms in sorted(by_state.items()):
        if set(arms) != set(keys):
            data.dropped["incomplete"] += 1
        elif not keep_unrestored and not all(r.restored for r in arms.values()):
            data.dropped["unrestored"] += 1
        else:
            data.states.append(StateData(f"{task}|{seed}|{step}", task, seed, step,
                                         dict(arms[ACT].features), arms))
    return data


def arm_tokens(r: ArmRecord, unit: str) -> int:
    if unit not in UNITS:
        raise ValueError(f"unknown token unit {unit!r}: {', '.join(UNITS)}")
    return r.arm_completion_tokens if unit == "completion" else r.arm_tokens


def value(state: StateData, arm: str, allowance: int, unit: str) -> tuple[bool, float]:
    """(success, tokens) of `arm` at `allowance` (see the module docstring)."""
    r = state.arms[arm]
    t = arm_tokens(r, unit)
    if t <= allowance:
        return r.success, float(t)
    return state.arms[ACT].success, float(allowance)


def grid_outcomes(states: Sequence[StateData], allowances: Sequence[int],
                  unit: str) -> list[Outcome]:
    out = []
    for s in states:
        for key, r in s.arms.items():
            for a in allowances:
                ok, t = value(s, key, a, unit)
                out.append(Outcome(s.uid, key, r.route, dict(r.params), a, ok, t))
    return out


def arm_of_entry(states: Sequence[StateData], route: str, params: Mapping[str, Any]) -> str:
    """The arm key a policy row (route, params) came from."""
    want = json.dumps(dict(params), sort_keys=True)
    for r in states[0].arms.values():
        if r.route == route and json.dumps(r.params, sort_keys=True) == want:
            return r.arm
    raise KeyError(f"no arm {route} {want}")


def common_features(states: Sequence[StateData]) -> list[str]:
    """The features every state has (a feature measured only sometimes is left out)."""
    names = set(states[0].features)
    for s in states[1:]:
        names &= set(s.features)
    return sorted(names)


def fit_difficulty(states: Sequence[StateData], *, l2: float = 1.0,
                   metadata: dict[str, Any] | None = None) -> DifficultyModel:
    """The predictor of the act arm's success, with cuts at its predictions' quantiles."""
    if len(states) < 2:
        raise ValueError(f"need at least 2 complete states to fit, got {len(states)}")
    names = common_features(states)
    rows = [{f: s.features[f] for f in names} for s in states]
    targets = [float(s.arms[ACT].success) for s in states]
    model = fit_predictor(rows, targets, [], l2=l2, metadata={
        "target": "success of acting on the proposals' majority (the act arm)",
        **(metadata or {})})
    return replace(model, cuts=quantile_cuts([model.predict(r) for r in rows]))


def bins_of(model: DifficultyModel, states: Sequence[StateData]) -> dict[str, int]:
    return {s.uid: bin_of(model.predict(s.features), model.cuts) for s in states}
