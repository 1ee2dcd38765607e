"""Beam search, DVTS and lookahead at budget scale, on a scripted model: hand-derived
rounds (who is kept, who is expanded, in which request), refills, end of sequence, and
the paper's charge (N beams cost N; lookahead k costs N(k + 1))."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from tests.agent.strategies.scripted import make_ctx, solver_requests
from tests.fakes.math_llm import ScriptedLLM
from worldplan.agent.strategies.beam import beam_search, resolve_width
from worldplan.agent.strategies.dvts import dvts
from worldplan.agent.strategies.lookahead import lookahead_search
from worldplan.worldmodel.llm.accounting import Budget


def first_steps(finishing: set[int] = frozenset()) -> Any:  # type: ignore[assignment]
    """Root requests get first steps "A0".."A15" in order (those in `finishing` hold the
    answer); continuations finish with \\boxed{1}."""
    counter = iter(range(10_000))

    def solve(_prompt: str, body: dict[str, Any]) -> str:
        last = body["messages"][-1]
        if last["role"] == "assistant":
            return f"B after {last['content'].split()[0]} so \\boxed{{1}}"
        i = next(counter)
        return f"A{i} \\boxed{{{i}}}" if i in finishing else f"A{i} step\n\nmore"
    return solve


def by_index(prompt: str) -> float:
    """A partial solution's score grows with the index of its first step; finished ones 0.6."""
    if "B after" in prompt:
        return 0.6
    return (int(re.findall(r"A(\d+)", prompt)[-1]) + 1) / 20


def parents_of(fake: ScriptedLLM) -> list[tuple[str, int]]:
    """(the first step continued, n) of every continuation request, in order."""
    return [(b["messages"][-1]["content"].split()[0], b["n"]) for b in solver_requests(fake)
            if b["messages"][-1]["role"] == "assistant"]


def test_n16_m4_keeps_four_and_expands_each_four_times_in_one_request() -> None:
    fake = ScriptedLLM(first_steps(), by_index)
    r = asyncio.run(beam_search("Q?", make_ctx(fake, Budget(max_generations=16)), width=4))
    root = [b for b in solver_requests(fake) if b["messages"][-1]["role"] != "assistant"]
    assert [b["n"] for b in root] == [16]  # round 0: one request of N = budget
    assert sorted(parents_of(fake)) == [("A12", 4), ("A13", 4), ("A14", 4), ("A15", 4)]
    kept = sorted(n.text for n in r.nodes if n.info.get("kept"))
    assert kept == ["A12 step", "A13 step", "A14 step", "A15 step"]
    assert len(r.candidates) == 16 and r.answer == "1" and r.stop_reason == "done"
    assert r.solver.generations == 16 and r.params["n_beams"] == 16  # N beams cost N
    assert r.verifier.generations == 0  # free, as in the paper


def test_finished_beams_are_replaced_so_every_round_has_n_candidates() -> None:
    """14 of 16 first steps finish: the 2 left share the next round's 16 candidates."""
    fake = ScriptedLLM(first_steps(finishing=set(range(14))), by_index)
    r = asyncio.run(beam_search("Q?", make_ctx(fake, Budget(max_generations=16)), width=4))
    assert sorted(parents_of(fake)) == [("A14", 8), ("A15", 8)]
    assert len(r.candidates) == 16  # the 16 best of 30 finished
    assert sum(1 for n in r.nodes if n.info["round"] == 1) == 16


def test_end_of_sequence_finishes_a_beam() -> None:
    """A first step that the model ended itself (no blank line, no stop string matched) is
    a finished solution, though it has no \\boxed{}; nothing continues it."""
    fake = ScriptedLLM(lambda _p, _b: "The answer is 5", lambda _p: 0.5)
    r = asyncio.run(beam_search("Q?", make_ctx(fake, Budget(max_generations=4))))
    assert parents_of(fake) == []
    assert all(n.kind == "final" and n.info["ended"] for n in r.nodes)
    assert r.stop_reason == "done" and len(r.candidates) == 4


def test_width_sqrt_and_bounds() -> None:
    assert resolve_width("sqrt", 16) == 4 and resolve_width("sqrt", 64) == 8
    assert resolve_width(4, 2) == 2 and resolve_width(4, 256) == 4


def test_dvts_n16_m4_runs_four_independent_subtrees() -> None:
    fake = ScriptedLLM(first_steps(), by_index)
    r = asyncio.run(dvts("Q?", make_ctx(fake, Budget(max_generations=16)), width=4))
    root = [b["n"] for b in solver_requests(fake) if b["messages"][-1]["role"] != "assistant"]
    assert root == [4, 4, 4, 4]  # each subtree samples its own M first steps
    # each subtree continues its own best first step (A3, A7, A11, A15), M children each
    assert sorted(parents_of(fake)) == [("A11", 4), ("A15", 4), ("A3", 4), ("A7", 4)]
    assert r.params["subtrees"] == 4 and len(r.candidates) == 4
    assert r.solver.generations == 16 and r.answer == "1"


def test_lookahead_scores_at_the_end_of_the_rollout_and_costs_n_k_plus_1() -> None:
    def solve(_prompt: str, body: dict[str, Any]) -> str:
        last = body["messages"][-1]
        if last["role"] != "assistant":
            return "First step\n\nrest"
        if body["temperature"] == 0.0:
            return "Greedy look\n\nrest"
        return "Then \\boxed{2}"

    seen: list[str] = []

    def judge(prompt: str) -> float:
        seen.append(prompt)
        return 0.8

    fake = ScriptedLLM(solve, judge)
    r = asyncio.run(lookahead_search("Q?", make_ctx(fake, Budget(max_generations=4)), k=1,
                                     width=2))
    assert r.params["n_beams"] == 2  # 4 // (k + 1)
    rollouts = [n for n in r.nodes if n.kind == "rollout"]
    assert len(rollouts) == 2 and all(n.text == "Greedy look" for n in rollouts)
    partial_judged = [p for p in seen if "so far" in p]
    assert len(partial_judged) == 2 and all("Greedy look" in p for p in partial_judged)
    assert r.answer == "2" and r.solver.generations == 4  # N(k + 1)
