"""The `compute-optimal` strategy: probe -> estimate difficulty -> controller -> run the chosen
strategy with what is left of the budget (Snell et al. 2024, with the probe's cost counted).

1. Probe (agent.strategies.probe): if `probe_cost(n)` generations fit in `max_fraction` of
   the budget (the policy's `probe` settings), n first samples are drawn and judged from a
   child budget.
2. Difficulty (agent.control.difficulty): "oracle" (measured pass@1 given in `oracle`, keyed by
   `text_key(problem)`), "predicted" (fixed rule on the probe's signals), "learned" (the
   policy's fitted predictor) or "auto" (learned if the policy has one, else predicted).
   A policy fitted from a bank names the verifier whose scores its cuts are on; judged by
   another kind of verifier, the probe's bin is unknown (the bin-free row decides).
3. Decision (agent.control.decide.decide): a pure function of (bin, budget at entry, policy).
4. The chosen strategy runs on the same `Budget`, now reduced by the probe: nothing can
   exceed the problem's budget. The final answer is selected over the chosen strategy's
   candidates AND the probe's samples (they are paid for; the strategy's come first, so
   ties go to them), with the strategy's own selection rule.

The result is a `StrategyResult` like any other; `params` records the decision and its
reason, the difficulty estimate and the probe's cost (the runner stores them in
Step.decision and Episode.info). `run_chosen` is also what calibration runs for every grid
configuration, so calibration measures exactly what the controller can choose.
Not handled: re-deciding mid-search.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from worldplan.agent.control.decide import Decision, decide, make_estimator
from worldplan.agent.control.difficulty import Estimate
from worldplan.agent.control.policy import Policy, PolicyError, load_policy
from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.fixed import get_fixed
from worldplan.agent.strategies.probe import Probe, probe_cost, run_probe
from worldplan.agent.strategies.records import StrategyResult

NAME = "compute-optimal"


def probe_size(n: int, max_fraction: float, generations: int | None, judge_cost: int) -> int:
    """Samples the probe takes with `generations` left: n if its cost fits in
    `max_fraction` of them (or there is no limit), else 0."""
    if n < 1 or generations is None:
        return max(n, 0)
    return n if probe_cost(n, judge_cost) <= max_fraction * generations else 0


async def run_chosen(problem: str, ctx: SearchContext, strategy: str, params: dict[str, Any],
                     probe: Probe, *, name: str | None = None) -> StrategyResult:
    """Run `strategy` on what is left of ctx.budget and select over it and the probe."""
    if strategy == NAME:
        raise PolicyError(f"a policy cannot choose {NAME!r} itself")
    try:
        fn = get_fixed(strategy)
    except KeyError as e:
        raise PolicyError(f"a policy chose {e.args[0]}") from e
    try:
        inspect.signature(fn).bind(problem, ctx, **params)
    except TypeError as e:
        raise PolicyError(f"parameters {params} do not fit strategy {strategy!r}: {e}") from e
    inner = SearchContext(ctx.client, ctx.verifier, ctx.budget, max_tokens=ctx.max_tokens,
                          step_max_tokens=ctx.step_max_tokens, temperature=ctx.temperature,
                          top_p=ctx.top_p, seed=ctx.seed, aggregation=ctx.aggregation,
                          same_answer=ctx.same_answer, verifier_charged=ctx.verifier_charged,
                          tags=ctx.tags)
    res = await fn(problem, inner, **params)
    candidates = list(res.candidates) + list(probe.nodes)
    nodes = list(probe.nodes) + list(res.nodes)
    if probe.nodes:  # re-select over the strategy's candidates and the probe's samples
        for nd in nodes:
            nd.chosen = False
        idx = await ctx.choose(candidates, str(res.params.get("selection", "weighted")))
        best = candidates[idx] if idx is not None else None
        if best is not None:
            best.chosen = True
        answer, solution = (best.answer, str(best.info.get("full_text", best.text))) \
            if best is not None else (None, "")
    else:
        answer, solution = res.answer, res.solution
    return StrategyResult(
        strategy=name or res.strategy, answer=answer, solution=solution,
        candidates=candidates, nodes=nodes, solver=probe.ledger.solver + res.solver,
        verifier=probe.ledger.verifier + res.verifier, budget=ctx.budget.summary(),
        stop_reason=res.stop_reason, verifier_charged=ctx.verifier_charged,
        params={"strategy": res.strategy, "strategy_params": res.params,
                "probe": _probe_info(probe)})


def _probe_info(probe: Probe) -> dict[str, Any]:
    c = probe.counts
    return {"samples": len(probe.nodes), "generations": c.generations,
            "completion_tokens": c.completion_tokens, "prompt_tokens": c.prompt_tokens,
            "note": probe.note}


async def compute_optimal(problem: str, ctx: SearchContext, *, policy: Policy | str | None = None,
                          difficulty: str = "auto", oracle: Mapping[str, float] | None = None,
                          ) -> StrategyResult:
    """Probe, estimate the difficulty, let the controller choose, and run its choice."""
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    estimator = make_estimator(difficulty, pol, oracle)
    total = ctx.budget.generations_left  # the decision's budget: probe included
    n = probe_size(int(pol.probe["n"]), float(pol.probe["max_fraction"]), total,
                   ctx.judge_paths)
    probe = await run_probe(problem, ctx, n) if n else Probe(
        note=f"no probe: {probe_cost(int(pol.probe.get('n', 0)), ctx.judge_paths)} "
             f"generations do not fit in {pol.probe.get('max_fraction')} of {total}")
    est = estimator.estimate(problem, probe.signals if probe.nodes else None)
    fitted_with = pol.probe.get("verifier")  # the probe scores' scale the cuts are on
    if (est.source == "predicted" and fitted_with and ctx.verifier is not None
            and ctx.verifier.kind != fitted_with):
        est = Estimate(None, None, "none", f"the policy bins {fitted_with} verifier scores; "
                       f"this run's {ctx.verifier.kind} verifier scores are on another "
                       "scale: difficulty unknown")
    est = replace(est, probe_generations=probe.counts.generations,
                  probe_tokens=probe.counts.completion_tokens)
    decision = decide(est.bin, total, pol)
    result = await run_chosen(problem, ctx, decision.strategy, decision.params, probe,
                              name=NAME)
    result.params = decision_record(decision, est, pol) | result.params
    return result


def decision_record(decision: Decision, est: Estimate, policy: Policy) -> dict[str, Any]:
    """What the runner stores in Step.decision: the decision, its reason, the estimate."""
    return {"decision": decision.to_dict(), "reason": decision.reason,
            "difficulty": est.to_dict(),
            "policy": {"source": policy.source, "version": policy.version,
                       "fitted_on": policy.metadata.get("fitted_on", "")}}
