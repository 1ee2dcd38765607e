"""Route arms: the per-step choices a fitted web controller picks among.

An `Arm` is a route (act, revise, branch) with its plan's settings (agent.web.plans) and,
optionally, the step allowance its search runs under (tokens; None: the plan's worst-case
cost, so the plan is never cut). Written "route:key=value,key=value@allowance", e.g.
`parse_arms("act;revise:rounds=1;branch:depth=1,width=3;branch:simulations=2,width=3@300")`;
its `key` is the same text with the settings sorted (agent.control.grid_fit.config_key), so
the key names the arm in rows and policies. `arm_decision` is the StepDecision an arm's step
runs with: the router's default plan for the route updated with the arm's settings, fitted
to the allowance by the same rule as live steps (agent.web.router.fit: width at most the
readable proposals, cut until it fits, branch falls back to revise, revise to act).
Not handled: running the arm (agent.runs.web_rollouts).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from worldplan.agent.control.grid_fit import config_key
from worldplan.agent.graph.budgets import StepCosts
from worldplan.agent.graph.state import StepDecision
from worldplan.agent.web.plans import PLANS, plan_of
from worldplan.agent.web.router import ROUTES, default_plan, fit

DEFAULT_ARMS = "act;revise:rounds=1;branch:depth=1,width=3"


@dataclass(frozen=True)
class Arm:
    route: str  # act | revise | branch
    params: dict[str, int] = field(default_factory=dict)  # the plan's settings
    allowance: int | None = None  # tokens its search may generate (None: the plan's worst)

    @property
    def key(self) -> str:
        tail = "" if self.allowance is None else f"@{self.allowance}"
        return config_key(self.route, self.params) + tail


def parse_arms(spec: str) -> list[Arm]:
    """"act;branch:width=3,depth=1@400" -> arms (ValueError on a bad route, setting or
    allowance, or a repeated arm)."""
    arms: list[Arm] = []
    for item in (s.strip() for s in spec.split(";")):
        if not item:
            continue
        body, at, allowance = item.partition("@")
        route, _, rest = body.partition(":")
        route = route.strip()
        if route not in ROUTES:
            raise ValueError(f"arm {item!r}: route must be one of {', '.join(ROUTES)}")
        names = {f.name for f in fields(PLANS[route])} if route in PLANS else set()
        params: dict[str, int] = {}
        for kv in (p.strip() for p in rest.split(",") if p.strip()):
            k, sep, v = kv.partition("=")
            if not sep or k.strip() not in names or not v.strip().isdigit():
                raise ValueError(f"arm {item!r}: {kv!r} is not a setting of {route} "
                                 f"({', '.join(sorted(names)) or 'none'}) = a whole number")
            params[k.strip()] = int(v)
        if at and not (allowance.strip().isdigit() and int(allowance) > 0):
            raise ValueError(f"arm {item!r}: the allowance after @ must be a positive integer")
        arm = Arm(route, params, int(allowance) if at else None)
        if any(a.key == arm.key for a in arms):
            raise ValueError(f"arm {arm.key!r} is given twice")
        arms.append(arm)
    if not arms:
        raise ValueError(f"no arms in {spec!r}")
    return arms


def arm_decision(arm: Arm, *, proposals: int, readable: int, costs: StepCosts
                 ) -> StepDecision:
    """The decision an arm's step runs with (see the module docstring); `allowance` is
    the arm's, else its full plan's worst-case cost in tokens (0 for act)."""
    base = default_plan(arm.route, proposals)
    plan = None if base is None else plan_of(arm.route, {**asdict(base), **arm.params})
    allowance = arm.allowance
    if allowance is None:
        allowance = 0 if plan is None else plan.cost(costs)
    route, fitted, why = fit(arm.route, plan, allowance, costs, readable)
    return StepDecision(route=route, reason=f"counterfactual arm {arm.key}"
                        + (f"; {why}" if why else ""), difficulty=None, budget_left=None,
                        allowance=allowance,
                        params=asdict(fitted) if fitted is not None else {})
