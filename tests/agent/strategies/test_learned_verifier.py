"""A learned verifier in a live strategy, on a scripted model: samples are asked for with
logprobs, a finished solution's score is the scorer's (hand-derived: a scorer that trusts
P(yes) the wrong way round makes weighted best-of-N pick the answer the generative verifier
rates lowest), a partial solution or a step-by-step search node keeps P(yes), its cost is
the generative verifier's, and a scorer of another model is refused; a scorer that reads
embeddings is refused without a pooling server and, with one, embeds each finished sample's
verifier conversation and counts its tokens."""

from __future__ import annotations

import asyncio

import pytest

from tests.agent.strategies.scripted import boxed_score, in_order, solver_requests
from tests.fakes.math_llm import ScriptedLLM
from tests.fakes.openai_server import Failure, OpenAIServer, Pooled
from worldplan.agent.control.scorer import FEATURE_SETS, Scorer, ScorerError
from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.best_of_n import best_of_n
from worldplan.agent.strategies.learned_verifier import LearnedVerifier
from worldplan.agent.strategies.records import StrategyResult
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.prompts import embedding_messages
from worldplan.worldmodel.math.verifier import GenerativeVerifier

SIX = ["\\boxed{5}", "\\boxed{5}", "\\boxed{5}", "\\boxed{7}", "\\boxed{7}", "\\boxed{9}"]
SCORES = {"5": 0.2, "7": 0.45, "9": 0.5}


def scorer(p_yes_weight: float, bias: float = 0.0) -> Scorer:
    names = list(FEATURE_SETS["live"])
    return Scorer(names, [0.0] * len(names), [1.0] * len(names),
                  [p_yes_weight if f == "p_yes" else 0.0 for f in names], bias, "m")


def ctx_with(fake: ScriptedLLM, s: Scorer) -> SearchContext:
    client = LLMClient("http://fake", transport=fake.transport(), retries=0)
    verifier = LearnedVerifier(GenerativeVerifier(client), s, model="m")
    return SearchContext(client, verifier, Budget(max_generations=6), seed=0)


def test_the_learned_score_decides_and_samples_carry_logprobs() -> None:
    fake = ScriptedLLM(in_order(SIX), boxed_score(SCORES))
    r = asyncio.run(best_of_n("Q?", ctx_with(fake, scorer(-20.0))))
    # learned score = sigmoid(-20 p): 5 -> 0.018 x3 = 0.055, 7 -> 1.2e-4 x2, 9 -> 4.5e-5
    assert r.answer == "5"
    assert all(b.get("logprobs") and b.get("top_logprobs") == 5
               for b in solver_requests(fake))
    assert all(n.info["sample"]["finish"] == "stop" for n in r.candidates)
    assert r.verifier.calls == 6 and r.verifier.generations == 0  # the generative's cost
    sure = asyncio.run(best_of_n("Q?", ctx_with(
        ScriptedLLM(in_order(SIX), boxed_score(SCORES)), scorer(20.0, -10.0))))
    # sigmoid(20 p - 10): 5 -> 0.0025 x3 = 0.007, 7 -> 0.269 x2 = 0.54, 9 -> 0.5
    assert sure.answer == "7"


def test_a_partial_solution_and_a_search_node_keep_p_yes() -> None:
    fake = ScriptedLLM(in_order(SIX), boxed_score(SCORES))
    ctx = ctx_with(fake, scorer(-20.0))
    j = asyncio.run(ctx.judge("Q?", ["x is \\boxed{7}"], complete=False, sample={}))
    assert j is not None and j.scores == [pytest.approx(0.45)]
    j = asyncio.run(ctx.judge("Q?", ["x is \\boxed{7}"], complete=True))  # no sample
    assert j is not None and j.scores == [pytest.approx(0.45)]
    j = asyncio.run(ctx.judge("Q?", ["x is \\boxed{7}"], complete=True, sample={}))
    assert j is not None and j.scores[-1] < 0.01  # sigmoid(-20 x 0.45)


def test_a_scorer_of_another_model_is_refused() -> None:
    fake = ScriptedLLM(in_order(SIX), boxed_score(SCORES))
    client = LLMClient("http://fake", transport=fake.transport(), retries=0)
    with pytest.raises(ScorerError, match="trained on 'm'"):
        LearnedVerifier(GenerativeVerifier(client), scorer(1.0), model="other")


def embedding_scorer() -> Scorer:
    names = [*FEATURE_SETS["live"], "emb_0", "emb_1"]
    return Scorer(names, [0.0] * len(names), [1.0] * len(names),
                  [30.0 if f == "emb_0" else 0.0 for f in names], 0.0, "m")


def pooling_server(fail: bool = False) -> OpenAIServer:
    """Embeds "boxed{7}" solutions as [0.2, 0.5], others as [-0.2, 0.5]; 30 prompt tokens."""
    return OpenAIServer(lambda body: Failure("400ctx") if fail else Pooled(
        [0.2 if "boxed{7}" in body["messages"][-2]["content"] else -0.2, 0.5], 30), model="m")


def charged_run(s: Scorer, embedder: LLMClient | None) -> StrategyResult:
    fake = ScriptedLLM(in_order(SIX), boxed_score(SCORES))
    client = LLMClient("http://fake", transport=fake.transport(), retries=0)
    verifier = LearnedVerifier(GenerativeVerifier(client), s, model="m", embedder=embedder)
    ctx = SearchContext(client, verifier, Budget(max_generations=12), seed=0,
                        verifier_charged=True)
    return asyncio.run(best_of_n("Q?", ctx))


def test_a_scorer_that_reads_embeddings_embeds_each_finished_sample() -> None:
    """The embedding decides (weight on its first component), the pooling call is the
    verifier's final question after the solver's prompt, and exactly its tokens, calls and
    FLOPs are added to the verifier's (a charged verifier, so it is drawn from the budget)."""
    fake = ScriptedLLM(in_order(SIX), boxed_score(SCORES))
    client = LLMClient("http://fake", transport=fake.transport(), retries=0)
    with pytest.raises(ScorerError, match="--embed-url"):
        LearnedVerifier(GenerativeVerifier(client), embedding_scorer(), model="m")
    pooling = pooling_server()
    embedder = LLMClient("http://pool", "m", transport=pooling.transport(), retries=0,
                         n_params=1000)
    r = charged_run(embedding_scorer(), embedder)
    assert r.answer == "7"  # 2 votes, but the embedding says right (sigmoid(6) vs sigmoid(-6))
    assert len(pooling.requests) == 6 and pooling.requests[0]["task"] == "embed"
    asked = pooling.requests[0]["messages"]
    assert asked == embedding_messages("Q?", [asked[-2]["content"]])
    base = charged_run(scorer(-20.0), None)  # the same samples, judged without embeddings
    assert r.verifier.calls == base.verifier.calls + 6
    assert r.verifier.generations == base.verifier.generations  # embedding: 0 equivalents
    assert r.verifier.prompt_tokens == base.verifier.prompt_tokens + 6 * 30
    assert r.verifier.flops == pytest.approx(base.verifier.flops + 6 * 2 * 1000 * 30)
    ctx = SearchContext(client, LearnedVerifier(GenerativeVerifier(client), embedding_scorer(),
                                                model="m", embedder=embedder),
                        Budget(max_generations=6), seed=0)
    j = asyncio.run(ctx.judge("Q?", ["x is \\boxed{7}"], complete=False, sample={}))
    assert j is not None and j.scores == [pytest.approx(0.45)] and len(pooling.requests) == 6


def test_an_embedding_that_does_not_fit_leaves_the_sample_unrescored() -> None:
    fake = ScriptedLLM(in_order(SIX), boxed_score(SCORES))
    client = LLMClient("http://fake", transport=fake.transport(), retries=0)
    embedder = LLMClient("http://pool", "m", transport=pooling_server(fail=True).transport(),
                         retries=0)
    verifier = LearnedVerifier(GenerativeVerifier(client), embedding_scorer(), model="m",
                               embedder=embedder)
    j = asyncio.run(verifier.judge("Q?", ["x is \\boxed{7}"], complete=True, sample={}))
    assert j.scores == [] and "not rescored" in j.detail and j.calls == 1  # the P(yes) call
    assert verifier.clients == (embedder,)
