"""The compute-optimal controller: a pure function (difficulty, budget, policy) -> Decision.

It never calls a model and has no state: the same inputs always give the same decision, so
it can run at every step of a multi-step episode (the web agent) as cheaply as once per
MATH problem. The difficulty is a bin (1 easiest .. 5 hardest) or None (unknown); the budget
is the generations available to this problem or step, probe included (None: unlimited).

Rules:
- the policy row is the largest policy budget <= `budget` (so the chosen strategy is never
  planned for more than there is); below the smallest policy budget, the smallest is used
  and the strategy itself shrinks to what is left (strategies never exceed their Budget);
  with no budget limit, the largest;
- the row for the bin, else (bin None or missing) the bin-free row of that budget.
`Decision` is plain, JSON-serialisable data (`to_dict`), for Step.decision and graph state.

`decide_step(text, signals, budget, policy)` is the per-step entry point for agents that
gather their own cheap signals (the web agent: its proposals' verifier scores, agreement
and entropy as `agent.control.difficulty.Signals`): estimate the bin with the policy's estimator
(`make_estimator`, pure), then `decide`. Still no model call.
Not handled: gathering signals (agent.strategies.probe for MATH), running the strategy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from worldplan.agent.control.difficulty import (
    DifficultyEstimator,
    Estimate,
    LearnedDifficulty,
    OracleDifficulty,
    PredictedDifficulty,
    Signals,
)
from worldplan.agent.control.policy import Policy
from worldplan.agent.control.predictor import model_from_dict

DIFFICULTY_SOURCES = ("auto", "predicted", "learned", "oracle")


@dataclass(frozen=True)
class Decision:
    strategy: str
    params: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    bin: int | None = None  # the difficulty bin decided on (None: unknown)
    budget: int | None = None  # generations available (None: unlimited)
    policy_budget: int | None = None  # the policy row's budget

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def policy_budget(budget: int | None, budgets: list[int]) -> int:
    """The policy budget to plan with: the largest <= budget, else the smallest."""
    if not budgets:
        raise ValueError("the policy has no budgets")
    if budget is None:
        return budgets[-1]
    fitting = [b for b in budgets if b <= budget]
    return fitting[-1] if fitting else budgets[0]


def decide(difficulty: int | None, budget: int | None, policy: Policy) -> Decision:
    """Choose the strategy and its hyperparameters for this difficulty and budget."""
    if difficulty is not None and not 1 <= difficulty <= len(policy.cuts) + 1:
        raise ValueError(f"difficulty bin must be 1..{len(policy.cuts) + 1} or None, "
                         f"got {difficulty}")
    pb = policy_budget(budget, policy.budgets)
    entry = policy.row(difficulty, pb)
    if entry is None:
        raise ValueError(f"the policy has no row for budget {pb}")
    used_bin = entry.bin
    where = (f"budget {budget}" if budget is None or budget == pb
             else f"budget {budget} (policy row {pb})")
    if used_bin is None:
        why = ("difficulty unknown" if difficulty is None
               else f"no row for bin {difficulty}") + ": best over all difficulties"
    else:
        why = f"bin {used_bin}"
    acc = f", calibration accuracy {entry.accuracy:.2f} (n={entry.n})" \
        if entry.accuracy is not None else ""
    note = f"; {entry.note}" if entry.note else ""
    return Decision(entry.strategy, dict(entry.params),
                    f"{why}, {where}: {entry.strategy}{acc}{note}", used_bin, budget, pb)


def make_estimator(difficulty: str, policy: Policy,
                   oracle: Mapping[str, float] | None = None) -> DifficultyEstimator:
    """"oracle" (measured pass rates by text_key), "predicted" (fixed rule on signals),
    "learned" (the policy's predictor), or "auto" (learned if fitted, else predicted)."""
    if difficulty not in DIFFICULTY_SOURCES:
        raise ValueError(f"unknown difficulty source {difficulty!r}: "
                         f"{', '.join(DIFFICULTY_SOURCES)}")
    if difficulty == "oracle":
        if policy.probe.get("cuts") is not None:
            raise ValueError(f"policy {policy.source or '(in memory)'} was fitted on the "
                             "probe's predicted difficulty (fit-policy --bank): its bins "
                             "are not pass@1 bins, so oracle difficulty cannot use it")
        if oracle is None:
            raise ValueError("oracle difficulty needs measured pass rates (oracle=...)")
        return OracleDifficulty(oracle, policy.cuts)
    if difficulty == "learned" and policy.predictor is None:
        raise ValueError(f"policy {policy.source or '(in memory)'} has no learned predictor")
    if difficulty in ("learned", "auto") and policy.predictor is not None:
        return LearnedDifficulty(model_from_dict(policy.predictor))
    if policy.probe.get("cuts") is not None:  # fitted from a bank: the probe's own scale
        return PredictedDifficulty(policy.probe["cuts"],
                                   statistic=str(policy.probe.get("statistic",
                                                                  "verifier_mean")))
    return PredictedDifficulty(policy.cuts)


def decide_step(text: str, signals: Signals | None, budget: int | None, policy: Policy, *,
                difficulty: str = "auto", oracle: Mapping[str, float] | None = None
                ) -> tuple[Decision, Estimate]:
    """Estimate this step's difficulty from its signals, then decide (no model call)."""
    est = make_estimator(difficulty, policy, oracle).estimate(text, signals)
    return decide(est.bin, budget, policy), est
