"""benchmarks/judge_accuracy.py on a scripted verifier: only (oracle, random) first steps from
the same page with different actions are paired; pairwise accuracy counts wins, ties as a
half; the change shown or not is what the verifier is asked about."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.judge_accuracy import pairs_of, parse_args, run
from tests.fakes.openai_server import OpenAIServer, Reply, yes_no
from worldplan.agent.runs.web_transitions import Transition, append_episode, read_transitions
from worldplan.worldmodel.llm.client import LLMClient

FORM = '- textbox "Name" [ref=e2]\n- button "Submit" [ref=e3]'


def first(task: str, source: str, seed: int, action: str, before: str = FORM,
          after: str = FORM) -> list[Transition]:
    return [Transition(task, seed, 0, source, "Enter Bob.", f"/miniwob/{task}.html", before,
                       action, after, 0.0, "", True, 1)]


def data(tmp_path: Path) -> Path:
    path = tmp_path / "t.jsonl"
    filled = FORM.replace("[ref=e2]", "[ref=e2]: Bob")
    for ep in (first("a", "oracle", 0, "fill('e2', 'Bob')", after=filled),
               first("a", "random", 0, "click('e3')"),  # a pair: the random one does nothing
               first("a", "oracle", 1, "fill('e2', 'Bob')", after=filled),
               first("a", "random", 1, "fill('e2', 'Bob')", after=filled),  # same action
               first("b", "oracle", 0, "click('e3')"),
               first("b", "random", 0, "click('e2')", before=FORM + "\n- link [ref=e9]")):
        append_episode(path, ep)
    return path


def test_only_same_page_different_action_pairs(tmp_path: Path) -> None:
    pairs = pairs_of(read_transitions(data(tmp_path)).transitions)
    assert [(o.task, o.seed, r.action) for o, r in pairs] == [("a", 0, "click('e3')")]


def test_pairwise_accuracy_with_and_without_the_change(tmp_path: Path) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        prompt = str(body["messages"][-1]["content"])
        # likes a shown change with Bob in it; from the action alone, likes clicks
        if ": Bob" in prompt.split("Imagined:")[-1]:
            return yes_no(0.9, 50)
        return yes_no(0.6 if "click(" in prompt.split("Imagined:")[-1] else 0.3, 50)

    server = OpenAIServer(respond, model="scripted-judge")
    client = LLMClient("http://fake", transport=server.transport(), retries=0)
    out = tmp_path / "j.json"
    result = asyncio.run(run(client, parse_args(["--data", str(data(tmp_path)),
                                                 "--out", str(out)])))
    s = result["summary"]
    assert s["pairs"] == 1 and len(server.requests) == 4
    assert s["with_real_change"]["point"] == 1.0  # 0.9 (Bob shown) > 0.6
    assert s["action_only"]["point"] == 0.0  # 0.3 (a fill) < 0.6 (a click)
    assert s["hard_pairs"] == 0  # the random click changed nothing
    saved = json.loads(out.read_text())
    assert saved["pairs"][0]["scores"]["oracle"] == pytest.approx(0.9)
    assert saved["meta"]["verifier"] == {"mode": "p_yes", "votes": 1}
