"""End to end with the real served model: build a bank of 2 MATH-500 problems (samples with
per-step verifier scores and logprob statistics, revision chains, beam searches), evaluate
it offline, fit a policy from it and run compute-optimal with that policy on the live
path, per problem and as a batch budget; a second build of the same bank asks nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlmodel import Session, select

from tests.conftest import LLMServer
from worldplan.agent.banks.bank_file import read_bank
from worldplan.agent.banks.evaluate import EvalSettings
from worldplan.agent.banks.policy_fit import fit_policy_from_bank
from worldplan.agent.banks.report import evaluate_bank
from worldplan.agent.control.policy import load_policy
from worldplan.agent.runs.bank_build import BankConfig, build_bank
from worldplan.agent.runs.math import MathRunConfig, run_math
from worldplan.agent.runs.math_batch import run_math_batch
from worldplan.envs.math.grader import Grader
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import Episode, LLMCall, Step
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.verifier import GenerativeVerifier

pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_build_evaluate_fit_and_run(llm_server: LLMServer, tmp_path: Path,
                                    grader: Grader) -> None:
    client = LLMClient(llm_server.url, llm_server.model, n_params=llm_server.n_params)
    store = TraceStore(make_engine(f"sqlite:///{tmp_path}/traces.db"))
    config = BankConfig(dataset="math500", limit=2, k=4, chains=2, length=2,
                        searches="beam:1,2", max_tokens=32, step_max_tokens=16)
    out = tmp_path / "bank.jsonl"
    s = build_bank(config, client=client, verifier=GenerativeVerifier(client), store=store,
                   grader=grader, out=out, model=llm_server.model)
    assert (s.problems, s.units_built, s.units_kept) == (2, 2 * 5, 0)
    bank = read_bank(out)
    assert bank.model == llm_server.model and not bank.problems_found
    for uid in bank.uids():
        samples = bank.unit(uid, "samples")["samples"]
        assert len(samples) == 4
        for c in samples:
            assert c["lp"]["n"] > 0 and c["lp"]["min"] <= c["lp"]["mean"] <= 0
            assert c["scores"] and c["score"] == c["scores"][-1]
        chain = bank.unit(uid, "chain:1")
        assert chain["first"] == 1 and len(chain["attempts"]) == 1
        beam = bank.unit(uid, "beam:2")
        assert beam["spent"]["spent_generations"] <= 2
    with Session(store.engine) as sess:
        calls = len(sess.exec(select(LLMCall)).all())
    again = build_bank(config, client=client, verifier=GenerativeVerifier(client),
                       store=store, grader=grader, out=out, model=llm_server.model)
    assert (again.units_built, again.units_kept) == (0, 10)
    with Session(store.engine) as sess:
        assert len(sess.exec(select(LLMCall)).all()) == calls  # nothing asked again

    settings = EvalSettings(budgets=(1, 2, 4), folds=2)
    result = evaluate_bank(bank, settings)
    bon = result["configs"]["best_of_n:selection=weighted"]
    assert set(bon) == {"1", "2", "4"} and all(0 <= v["point"] <= 1 for v in bon.values())
    assert "revisions:chains=2,per_chain=2" in result["configs"]
    assert np.isfinite(result["compute_optimal"]["4"]["oracle"]["point"])

    policy = fit_policy_from_bank(bank, settings, note="server test")
    path = policy.save(tmp_path / "policy.json")
    loaded = load_policy(path)
    assert loaded.probe["statistic"] == "verifier_mean" and len(loaded.probe["cuts"]) == 4
    run = run_math(MathRunConfig(dataset="math500", offset=2, limit=1,
                                 strategy="compute-optimal", params={"policy": str(path)},
                                 budget_generations=4, max_tokens=32, step_max_tokens=16),
                   client=client, verifier=GenerativeVerifier(client), store=store,
                   grader=grader)
    with Session(store.engine) as sess:
        step = sess.exec(select(Step).join(Episode)
                         .where(Episode.run_id == run.run_id)).first()
    assert run.n == 1 and step is not None
    estimate = (step.decision or {})["params"]["difficulty"]
    assert estimate["source"] == "predicted" and "verifier_mean" in estimate["reason"]
    # the same policy spends a batch budget (average 4 per problem) on the live path
    batch = run_math_batch(MathRunConfig(dataset="math500", offset=3, limit=2, max_tokens=32,
                                         step_max_tokens=16, concurrency=2),
                           policy=loaded, average=4.0, cap=8, agree=0.95, client=client,
                           verifier=GenerativeVerifier(client), store=store, grader=grader)
    assert len(batch.outcomes) == 2
    assert sum(o.spent for o in batch.outcomes) <= 8
    assert all(o.allocated >= 3 for o in batch.outcomes)  # the probe's 2, and more
