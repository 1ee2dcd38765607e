"""Difficulty of one web step: features of the step's proposals and page, and the estimator
that turns them into a bin with a web policy's cut points.

`step_features(candidates, observation, step)` measures, each only when it was measured
(a feature that was not is left out, never filled with a constant):
- `agreement`: share of the proposer's replies giving the majority readable action (0: none
  readable; a merged candidate counts once per reply that gave it, its `info["count"]`);
- `entropy`: mean token entropy (nats/token) of the replies that carry one (a proposal
  node's `info["entropy"]`, present when logprobs came back);
- `verifier_mean`, `verifier_spread`: mean, and max - min, of the proposals' verifier
  scores (the spread needs two scored proposals);
- `refs`: element references on the page (`[ref=...]` in the accessibility tree);
- `step`: index of the step in the episode; `last_error`: 1.0 if the last action failed.

`WebDifficulty(policy)` maps them to an estimated solve rate p_solve (pass@1 of acting on the
proposals) and bins it with the policy's `cuts` (agent.control.difficulty.bin_of): with the
policy's learned predictor (agent.control.predictor; a feature it was fitted on but that is
absent here counts as its training mean) when the policy has one, else the fixed rule
p = agreement, averaged with the verifier mean when the proposals were judged. With 3
proposals and no verifier, p is 0, 1/3, 2/3 or 1: bins 5, 4, 2 and 1 on the equal-width cuts.
Pure: no model call. Not handled: fitting the predictor and the cuts
(agent.web.controller_fit), judging proposals (the estimate runs before any search).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from worldplan.agent.control.difficulty import DEFAULT_CUTS, Estimate, bin_of
from worldplan.agent.control.policy import Policy
from worldplan.agent.control.predictor import DifficultyModel, model_from_dict

FEATURES = ("agreement", "entropy", "verifier_mean", "verifier_spread", "refs", "step",
            "last_error")
_REF = re.compile(r"\[ref=[^\]]+\]")


def replies(candidates: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One entry per proposer reply: a merged candidate (agent.web.proposer.merge) counts
    once per reply that gave it (`info["count"]`, default 1)."""
    return [c for c in candidates for _ in range(int((c.get("info") or {}).get("count", 1)))]


def proposal_agreement(answers: Sequence[str | None]) -> float:
    """Share of the replies giving the most frequent readable action (0 if none)."""
    readable = [a for a in answers if a]
    if not answers or not readable:
        return 0.0
    return Counter(readable).most_common(1)[0][1] / len(answers)


def step_features(candidates: Sequence[Mapping[str, Any]], observation: Mapping[str, Any],
                  step: int) -> dict[str, float]:
    """The step's difficulty features (see the module docstring); absent ones left out."""
    every = replies(candidates)
    f: dict[str, float] = {
        "agreement": proposal_agreement([c.get("answer") or None for c in every]),
        "refs": float(len(_REF.findall(str(observation.get("axtree", ""))))),
        "step": float(step),
        "last_error": float(bool(observation.get("last_action_error"))),
    }
    entropies = [float(e) for c in every
                 if (e := (c.get("info") or {}).get("entropy", c.get("entropy"))) is not None]
    if entropies:
        f["entropy"] = float(np.mean(entropies))
    scores = [float(c["score"]) for c in candidates if c.get("score") is not None]
    if scores:
        f["verifier_mean"] = float(np.mean(scores))
    if len(scores) >= 2:
        f["verifier_spread"] = max(scores) - min(scores)
    return f


def rule_p_solve(features: Mapping[str, float]) -> float:
    """The fixed rule: agreement, averaged with the verifier mean when there is one."""
    if "verifier_mean" in features:
        return 0.5 * (features["agreement"] + features["verifier_mean"])
    return float(features["agreement"])


class WebDifficulty:
    """A web step's difficulty bin from its features, on a policy's cuts (see the module
    docstring); `WebDifficulty()` is the fixed rule on the equal-width cuts."""

    def __init__(self, cuts: Sequence[float] = DEFAULT_CUTS,
                 model: DifficultyModel | None = None) -> None:
        self.cuts = list(cuts)
        self.model = model

    @classmethod
    def of(cls, policy: Policy | None) -> WebDifficulty:
        """The estimator a web policy implies: its cuts, and its predictor if it has one."""
        if policy is None:
            return cls()
        model = model_from_dict(policy.predictor) if policy.predictor is not None else None
        return cls(policy.cuts, model)

    @property
    def source(self) -> str:
        return "learned" if self.model is not None else "predicted"

    def estimate(self, features: Mapping[str, float]) -> Estimate:
        f = dict(features)
        if self.model is not None:
            p = self.model.predict(f)
            why = f"learned predictor ({len(self.model.features)} features) -> p {p:.2f}"
        else:
            p = rule_p_solve(f)
            judged = (f", verifier mean {f['verifier_mean']:.2f}"
                      if "verifier_mean" in f else "")
            why = f"agreement {f['agreement']:.2f}{judged} -> p {p:.2f}"
        return Estimate(bin_of(p, self.cuts), p, self.source,
                        f"{why} on cuts {[round(c, 3) for c in self.cuts]}", f)
