"""benchmarks/judge_selection.py with a scripted proposer and judge: on a page where the
proposals' majority is wrong and the judge likes the oracle's action, the judge's pick is
scored right and the majority's wrong; the greedy pick and the ceiling are reported. With
every step and one-gesture actions added, a later page (its history the oracle's earlier
actions) is judged, and an action no proposal gave can be the judge's pick, by the yes/no
judge and by the choice judge alike."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from benchmarks.judge_selection import oracle_pages, parse_args, run
from tests.fakes.web import ScriptedWebLLM
from worldplan.agent.runs.web_transitions import Transition, append_episode, read_transitions
from worldplan.worldmodel.llm.client import LLMClient

FORM = '- textbox "Name" [ref=e2]\n- button "Submit" [ref=e3]'


def episode(seed: int, source: str = "oracle") -> list[Transition]:
    return [Transition("form", seed, 0, source, "Enter Bob.", "/miniwob/form.html", FORM,
                       "fill('e2', 'Bob')", FORM, 0.0, "", True, 1)]


def test_the_vote_and_the_judge_are_scored_against_the_oracle(tmp_path: Path) -> None:
    data = tmp_path / "t.jsonl"
    for ep in (episode(0), episode(1), episode(0, "random")):
        append_episode(data, ep)
    assert [(t.seed, h) for t, h in oracle_pages(read_transitions(data).transitions, 1,
                                                  False)] == [(0, [])]

    def propose(done: int, prompt: str, n: int) -> list[str]:
        # greedy: a click; sampled: the fill once and the click again (majority: the click)
        return ["click('e3')"] if n == 1 else ["fill('e2', 'Bob')", "click('e3')"][:n]

    def judge(prompt: str) -> float:
        return 0.9 if "Imagined: fill(" in prompt else 0.2

    llm = ScriptedWebLLM(propose=propose, judge=judge)
    client = LLMClient("http://scripted", transport=llm.transport(), retries=0)
    out = tmp_path / "s.json"
    result = asyncio.run(run(client, parse_args(["--data", str(data), "--out", str(out)])))
    s = result["summary"]
    assert (s["pages"], s["with_choice"]) == (2, 2)
    assert s["greedy"]["point"] == s["majority"]["point"] == 0.0
    assert s["judge"]["point"] == s["any"]["point"] == 1.0
    assert s["judge_minus_majority"]["point"] == 1.0
    page = json.loads(out.read_text())["pages"][0]
    assert page["majority"] == "click('e3')" and page["judge"] == page["oracle"]
    assert sorted(llm.roles()) == ["proposer"] * 4 + ["verifier"] * 4


FILLED = '- textbox "Name" [ref=e2]: Bob\n- button "Submit" [ref=e3]'


def two_steps(seed: int) -> list[Transition]:
    return [Transition("form", seed, 0, "oracle", "Enter Bob.", "/miniwob/form.html", FORM,
                       "fill('e2', 'Bob')", FILLED, 0.0, "", False, 2),
            Transition("form", seed, 1, "oracle", "Enter Bob.", "/miniwob/form.html", FILLED,
                       "click('e3')", FILLED, 1.0, "", True, 2)]


@pytest.mark.parametrize("judge_kind", ["p_yes", "choice"])
def test_added_actions_reach_the_judge_on_later_pages(tmp_path: Path, judge_kind: str) -> None:
    data = tmp_path / "t.jsonl"
    append_episode(data, two_steps(0))
    pages = oracle_pages(read_transitions(data).transitions, 1, True)
    assert [(t.step, h) for t, h in pages] == [(0, []), (1, ["fill('e2', 'Bob')"])]

    def propose(done: int, prompt: str, n: int) -> list[str]:
        return ["fill('e2', 'Bob')"] * n  # the proposer never clicks Submit

    def judge(prompt: str) -> float:
        filled = "[ref=e2]: Bob" in prompt
        if "Imagined: click('e3')" in prompt:
            return 0.9 if filled else 0.1
        return 0.2 if filled else 0.8

    llm = ScriptedWebLLM(propose=propose, judge=judge)
    client = LLMClient("http://scripted", transport=llm.transport(), retries=0)
    out = tmp_path / "s.json"
    args = ["--data", str(data), "--out", str(out), "--steps", "all", "--expand", "4",
            "--judge", judge_kind]
    s = asyncio.run(run(client, parse_args(args)))["summary"]
    assert s["pages"] == 2
    assert s["judge"]["point"] == s["any"]["point"] == 1.0
    assert s["proposed"]["point"] == s["majority"]["point"] == 0.5  # Submit never proposed
    later = json.loads(out.read_text())["pages"][1]
    assert later["added"] == ["click('e3')"] and later["judge"] == "click('e3')"
    prompts = [b["messages"][-1]["content"] for r, b in llm.requests if r == "proposer"]
    assert any("Actions so far: fill('e2', 'Bob')" in p for p in prompts)
