"""A batch budget on a scripted model: the allocation follows the policy's curves (worked by
hand), a problem whose answers agree stops early and what it saves is spent by a later
problem, and the batch never spends more than its average."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.math_llm import ScriptedLLM
from worldplan.agent.control.policy import Policy, PolicyEntry
from worldplan.agent.runs.math import MathRunConfig
from worldplan.agent.runs.math_batch import run_math_batch
from worldplan.envs.math.grader import Grader
from worldplan.traces.engine import make_engine
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.verifier import GenerativeVerifier


def policy(curves: dict[int, dict[int, float]]) -> Policy:
    entries = [PolicyEntry(b, budget, "best_of_n", {"selection": "majority"}, acc, 10)
               for b, per in curves.items() for budget, acc in per.items()]
    entries += [PolicyEntry(None, budget, "best_of_n", {"selection": "majority"}, 0.5, 10)
                for budget in curves[next(iter(curves))]]
    return Policy(entries, [0.2, 0.4, 0.6, 0.8],
                  {"n": 2, "max_fraction": 0.5, "statistic": "verifier_mean",
                   "cuts": [0.2, 0.4, 0.6, 0.8]})


def solve(prompt: str, body: dict[str, Any]) -> str:
    if "agree" in prompt:
        return "x is \\boxed{3}"
    return f"x is \\boxed{{{body.get('seed', 0)}}}"  # a new answer every request


def judge(prompt: str) -> float:
    return 0.9 if "easy" in prompt else 0.1


def run(tmp_path: Path, texts: list[str], pol: Policy, average: float, cap: int,
        agree: float | None) -> Any:
    data = tmp_path / "p.jsonl"
    data.write_text("".join(json.dumps({"problem": t, "answer": "3", "unique_id": f"p{i}"})
                            + "\n" for i, t in enumerate(texts)))
    fake = ScriptedLLM(solve, judge)
    client = LLMClient("http://fake", transport=fake.transport(), retries=0)
    store = TraceStore(make_engine(f"sqlite:///{tmp_path}/t.db"))
    with Grader() as grader:
        return run_math_batch(MathRunConfig(dataset=str(data), max_tokens=24),
                              policy=pol, average=average, cap=cap, agree=agree,
                              client=client, verifier=GenerativeVerifier(client),
                              store=store, grader=grader)


def test_budget_follows_the_curves(tmp_path: Path) -> None:
    # easy (bin 1) gains 0.02 from 3 to 8; hard (bin 5) gains 0.5: 11 units -> hard gets 8
    pol = policy({1: {3: 0.9, 8: 0.92}, 5: {3: 0.1, 8: 0.6}})
    s = run(tmp_path, ["easy one", "hard one"], pol, 5.5, 8, None)
    assert [(o.bin, o.allocated) for o in s.outcomes] == [(1, 3), (5, 8)]
    assert sum(o.spent for o in s.outcomes) <= 11


def test_agreeing_answers_stop_early_and_their_budget_goes_to_a_later_problem(
        tmp_path: Path) -> None:
    pol = policy({5: {3: 0.1, 8: 0.6}})
    s = run(tmp_path, ["hard, they agree", "hard, they differ"], pol, 8.0, 10, 0.95)
    first, second = s.outcomes
    assert (first.allocated, second.allocated) == (8, 8)
    assert first.spent == 2 + 4  # the probe, then 4 agreeing samples (Beta(5, 1): 0.969)
    assert second.spent == 10  # its 8 and the 2 the first returned (cap 10)
    assert sum(o.spent for o in s.outcomes) <= 8 * 2


def test_an_average_below_the_probe_is_refused(tmp_path: Path) -> None:
    pol = policy({5: {3: 0.1, 8: 0.6}})
    with pytest.raises(ValueError, match="cheapest options"):
        run(tmp_path, ["hard one"], pol, 2.0, 8, None)
