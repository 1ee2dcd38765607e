"""A verifier learned from banks, used live: the served model's P(yes) and the sample's own
log-probability statistics through a fitted logistic regression (agent.control.scorer).

`LearnedVerifier(inner, scorer)` judges with `inner` (the generative verifier on the same
server), then, for a finished solution, replaces the last score with the scorer's P(right)
from the features of agent.control.scorer.sample_features: that P(yes), the number of steps,
and what sampling gave (`sample`: log-probability statistics, completion tokens, finish
reason; strategies put it in Node.info["sample"] and ask the server for logprobs because
`wants_logprobs` is set). A partial solution, and a node sampled step by step (beam search
and DVTS: no whole-sample statistics), keep the inner score: the scorer was trained on
finished whole samples. A sample without logprobs gets the training
means for those features. Cost: the inner verifier's calls and nothing more (the features
come from the samples), so the budget units are the generative verifier's.
`check_model` at construction refuses a scorer trained on another model's samples.
Not handled: features that compare samples (votes: weighted selection sums the scores).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from worldplan.agent.control.scorer import Scorer, sample_features
from worldplan.envs.math.answer import extract_answer
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import Message
from worldplan.worldmodel.math.verifier import Judgement, Verifier


class LearnedVerifier:
    kind = "learned"
    wants_logprobs = True

    def __init__(self, inner: Verifier, scorer: Scorer, *, model: str) -> None:
        scorer.check_model(model)
        self.inner, self.scorer = inner, scorer

    async def judge(self, problem: str, steps: Sequence[str], *, complete: bool,
                    asked: Sequence[Message] | None = None, budget: Budget | None = None,
                    equivalents: int = 0, tags: dict[str, Any] | None = None,
                    sample: Mapping[str, Any] | None = None) -> Judgement:
        j = await self.inner.judge(problem, steps, complete=complete, asked=asked,
                                   budget=budget, equivalents=equivalents, tags=tags)
        if not complete or not j.scores or sample is None:
            return j  # a partial solution, no verdict, or a search node: P(yes) as it is
        about = dict(sample or {})
        text = "\n\n".join(steps)
        features = sample_features({
            "score": j.scores[-1], "scores": [j.scores[-1]], "steps": len(steps),
            "lp": about.get("lp") or {}, "tokens": about.get("tokens") or 0,
            "finish": about.get("finish"),
            "answer": extract_answer(text, bare=False)})
        learned = float(self.scorer.predict([features])[0])
        return replace(j, scores=[*j.scores[:-1], learned],
                       detail=f"{j.detail}; learned {learned:.3f} from P(yes) "
                              f"{j.scores[-1]:.3f}".lstrip("; "))
