"""benchmarks/world_model_accuracy.py on a scripted model (tests.fakes.openai_server): every
prediction is scored, and an unreadable, unappliable or failed one counts as wrong (0), not
dropped; per-task and overall means with intervals, failure rates and the JSON's slice."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.world_model_accuracy import parse_args, run, sample
from tests.fakes.openai_server import Answer, Failure, OpenAIServer, Reply, Sample
from worldplan.agent.runs.web_transitions import Transition, append_episode
from worldplan.worldmodel.llm.client import LLMClient

FORM = '- generic [ref=e1]:\n  - textbox "Name" [ref=e2]\n  - button "Submit" [ref=e3]'
FILLED = FORM.replace('"Name" [ref=e2]', '"Name" [active] [ref=e2]: Bob')
DONE = FILLED + "\n- generic [ref=e4] [cursor=pointer]: START"
BOXES = '- checkbox "A" [ref=e1]\n- button "Submit" [ref=e2]'
CHECKED = BOXES.replace('"A" [ref=e1]', '"A" [checked] [ref=e1]')
# action -> the scripted model's answer
ANSWERS: dict[str, str | Failure] = {
    "fill('e2', 'Bob')": 'Sure:\n~ textbox "Name" [ref=e2] => textbox "Name" [ref=e2]: Bob',
    "click('e3')": "The form is submitted.",  # no change line: wrong (parse)
    "check('e1')": '- link "Home" [ref=e9]',  # not on the page: wrong (apply)
    "click('e1')": "Nothing changes.",  # right
    "click('e2')": Failure("500"),  # wrong (request)
}


def transitions() -> list[list[Transition]]:
    def ep(task: str, rows: list[tuple[str, str, str]]) -> list[Transition]:
        return [Transition(task, 0, i, "oracle", "goal", "/miniwob/x.html", b, a, af, 0.0, "",
                           i == len(rows) - 1, len(rows)) for i, (b, a, af) in enumerate(rows)]
    return [ep("enter-text", [(FORM, "fill('e2', 'Bob')", FILLED),
                              (FILLED, "click('e3')", DONE)]),
            ep("click-checkboxes", [(BOXES, "check('e1')", CHECKED),
                                    (CHECKED, "click('e1')", CHECKED),
                                    (CHECKED, "click('e2')", CHECKED)])]


def respond(body: dict[str, Any]) -> Answer:
    asked = body["messages"][-1]["content"]  # the action asked about: the last one named
    answer = ANSWERS[max((a for a in ANSWERS if a in asked), key=asked.rfind)]
    return answer if isinstance(answer, Failure) else Reply([Sample(answer, "stop", 7)], 100)


def test_every_prediction_is_scored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "t.jsonl"
    for episode in transitions():
        append_episode(data, episode)
    server = OpenAIServer(respond, model="scripted-wm")
    client = LLMClient("http://fake", transport=server.transport(), retries=0)
    out = tmp_path / "acc.json"
    args = parse_args(["--data", str(data), "--per-task", "10", "--out", str(out)])
    result = asyncio.run(run(client, args))
    assert len(server.requests) == 5
    et, cc = result["per_task"]["enter-text"], result["per_task"]["click-checkboxes"]
    assert (et["n"], et["f1"]["point"], et["exact"]["point"]) == (2, 0.5, 0.5)
    assert et["parse_failure_rate"] == 0.5 and et["apply_failure_rate"] == 0.0
    assert cc["f1"]["point"] == cc["exact"]["point"] == pytest.approx(1 / 3)
    assert cc["apply_failure_rate"] == cc["request_failure_rate"] == pytest.approx(1 / 3)
    overall = result["overall"]
    assert overall["n"] == 5 and overall["f1"]["point"] == pytest.approx(2 / 5)
    assert overall["f1"]["low"] <= 0.4 <= overall["f1"]["high"]
    assert overall["f1"]["confidence"] == 0.9
    assert overall["completion_tokens"] == 4 * 7
    assert overall["nothing_changes_exact"] == pytest.approx(2 / 5)
    saved = json.loads(out.read_text())
    meta = saved["meta"]
    assert meta["model"] == "scripted-wm" and meta["seed"] == 0
    assert meta["slice"]["transitions"] == 5 and len(meta["load_avg_before"]) == 3
    preds = {p["action"]: p for p in saved["predictions"]}
    assert preds["check('e1')"]["failure"] == "apply"
    assert preds["click('e2')"]["failure"] == "request"
    assert preds["fill('e2', 'Bob')"]["score"]["exact"]
    assert not preds["click('e3')"]["score"]["applied"]
    shown = capsys.readouterr().out
    assert "OVERALL" in shown and "90% bootstrap" in shown


def test_the_sample_is_per_task_and_seeded() -> None:
    rows = [t for ep in transitions() for t in ep]
    one = sample(rows, 1, seed=3)
    assert sorted(t.task for t in one) == ["click-checkboxes", "enter-text"]
    assert one == sample(rows, 1, seed=3)
    assert len(sample(rows, 10, seed=0)) == 5
    assert {t.task for t in sample(rows, 10, seed=0, tasks=["enter-text"])} == {"enter-text"}


def test_examples_of_other_tasks_and_paired_differences(tmp_path: Path) -> None:
    """--examples: the prompts carry recorded changes of OTHER pages only; --against: the
    paired differences on the shared transitions; prompt tokens are counted."""
    data, shots = tmp_path / "t.jsonl", tmp_path / "shots.jsonl"
    for episode in transitions():
        append_episode(data, episode)
    other = Transition("login", 0, 0, "oracle", "goal", "/miniwob/login.html",
                       '- textbox "User" [ref=e7]', "fill('e7', 'kim')",
                       '- textbox "User" [ref=e7]: kim', 0.0, "", True, 1)
    append_episode(shots, [other, *(t for ep in transitions() for t in ep)])
    server = OpenAIServer(respond, model="scripted-wm")
    client = LLMClient("http://fake", transport=server.transport(), retries=0)
    first = tmp_path / "a.json"
    asyncio.run(run(client, parse_args(["--data", str(data), "--out", str(first)])))
    second = tmp_path / "b.json"
    result = asyncio.run(run(client, parse_args([
        "--data", str(data), "--out", str(second), "--examples", str(shots),
        "--against", str(first)])))
    prompts = [str(body["messages"][-1]["content"]) for body in server.requests[5:]]
    fills = [p for p in prompts if "fill('e2', 'Bob')" in p]
    assert len(fills) == 1 and "Action: fill('e7', 'kim')" in fills[0]
    assert not any("Action: fill('e2'" in p or "Action: check(" in p for p in prompts)
    assert result["meta"]["examples"]["bank"] == 6
    assert result["meta"]["tokens"]["prompt"] > 0
    diff = result["against"]
    assert diff["pairs"] == 5 and diff["exact"]["point"] == 0.0  # the same scripted answers
