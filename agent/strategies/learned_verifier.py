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
means for those features. Cost, without embeddings: the inner verifier's calls and nothing
more (the features come from the samples).
`check_model` at construction refuses a scorer trained on another model's samples.
A scorer that reads embeddings (agent.control.scorer, "embedding" features) needs
`embedder`, a client of a pooling server of the same model (refused without one): each
finished sample is then embedded once more (worldmodel.llm.embedding, the conversation of
worldmodel.math.prompts.embedding_messages): one call of prompt tokens, no generation. It
is drawn from the budget the judgement is given (a charged verifier's; 0
generation-equivalents) and its tokens and FLOPs are added to the judgement's usage, so the
ledger records it; an embedding that does not fit leaves the sample unrescored (no
verdict), with the inner call still recorded. `clients` names the pooling server's client
so that runs trace and close it.
Not handled: features that compare samples (votes: weighted selection sums the scores).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from worldplan.agent.control.scorer import EMBEDDING, Scorer, ScorerError, sample_features
from worldplan.envs.math.answer import extract_answer
from worldplan.worldmodel.llm.accounting import Budget, BudgetExceeded
from worldplan.worldmodel.llm.client import LLMClient, Message
from worldplan.worldmodel.llm.embedding import embed
from worldplan.worldmodel.llm.errors import ContextLengthExceeded
from worldplan.worldmodel.math.prompts import embedding_messages
from worldplan.worldmodel.math.verifier import Judgement, Verifier


class LearnedVerifier:
    kind = "learned"
    wants_logprobs = True

    def __init__(self, inner: Verifier, scorer: Scorer, *, model: str,
                 embedder: LLMClient | None = None) -> None:
        scorer.check_model(model)
        if scorer.needs_embedding and embedder is None:
            raise ScorerError("this learned verifier reads embeddings of (problem, solution): "
                              "give it a pooling server of the same model (--embed-url; "
                              "`worldplan serve --embed`)")
        self.inner, self.scorer, self.embedder = inner, scorer, embedder

    @property
    def clients(self) -> tuple[LLMClient, ...]:
        """Clients besides the solver's that it calls (to trace and close with the run's)."""
        own: tuple[LLMClient, ...] = getattr(self.inner, "clients", ())
        return own + ((self.embedder,) if self.embedder is not None else ())

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
        usage, flops, calls = j.usage, j.flops, j.calls
        if self.scorer.needs_embedding and self.embedder is not None:
            try:
                e = await embed(self.embedder, embedding_messages(problem, steps),
                                budget=budget, tags={**(tags or {}), "purpose": "learned"})
            except (BudgetExceeded, ContextLengthExceeded) as err:  # the inner call stands
                return Judgement([], j.usage, j.calls, j.flops,
                                 f"not rescored: the embedding did not fit ({err})",
                                 j.equivalents)
            features.update({f"{EMBEDDING}{i}": v for i, v in enumerate(e.vector)})
            usage, calls = usage + e.generation.usage, calls + 1
            if flops is not None or e.generation.flops is not None:
                flops = (flops or 0.0) + (e.generation.flops or 0.0)
        learned = float(self.scorer.predict([features])[0])
        return replace(j, scores=[*j.scores[:-1], learned], usage=usage, flops=flops,
                       calls=calls,
                       detail=f"{j.detail}; learned {learned:.3f} from P(yes) "
                              f"{j.scores[-1]:.3f}".lstrip("; "))
