"""The web-transition dataset (agent.runs.web_transitions): random actions legal on the page,
the JSON Lines file (complete episodes only, a truncated last line reported and left alone),
and a real recording in the browser that resumes where it stopped."""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from pathlib import Path

import pytest

from worldplan.agent.runs.web_transitions import (
    RecordPlan,
    RecordSummary,
    Transition,
    append_episode,
    episodes_of,
    random_action,
    read_transitions,
    record_into,
)
from worldplan.envs.web.actions import parse_action
from worldplan.envs.web.host import WebHost
from worldplan.worldmodel.web.page_diff import real_change

PAGE = """- generic [ref=e1]:
  - textbox "Name" [ref=e2]
  - checkbox "A" [ref=e3]
  - combobox [ref=e4]:
    - option "Red" [selected]
    - option "Blue"
  - button "Submit" [ref=e5]"""


def test_random_actions_are_legal_on_the_page() -> None:
    rng = random.Random(0)
    drawn = [parse_action(random_action(PAGE, rng)) for _ in range(300)]
    by_kind: dict[str, set[str]] = {}
    for a in drawn:
        by_kind.setdefault(a.name, set()).add(str(a.args.get("ref")))
    assert by_kind["fill"] == {"e2"} and by_kind["check"] == {"e3"}
    assert by_kind["select_option"] == {"e4"}
    assert by_kind["click"] == {"e1", "e2", "e3", "e4", "e5"}
    labels = {a.args["label"] for a in drawn if a.name == "select_option"}
    assert labels == {"Red", "Blue"}
    again = random.Random(0)
    assert [str(parse_action(random_action(PAGE, again))) for _ in range(300)] == \
        [str(a) for a in drawn]  # seeded: the same draws
    assert random_action("- generic: no refs", rng) == "noop()"


def episode(task: str, seed: int, source: str, n: int) -> list[Transition]:
    return [Transition(task, seed, i, source, "goal", "/miniwob/x.html", "- a", "click('e1')",
                       "- b", 0.0, "", i == n - 1, n) for i in range(n)]


def test_the_file_keeps_complete_episodes_and_reports_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    append_episode(path, episode("a", 0, "oracle", 2))
    append_episode(path, episode("a", 0, "random", 3)[:2])  # a run killed mid-episode
    whole = json.dumps(asdict(episode("b", 1, "random", 1)[0]))
    with path.open("a") as f:
        f.write(whole[: len(whole) // 2])  # ... and mid-line
    data = read_transitions(path)
    assert data.complete == {("a", 0, "oracle")}
    assert data.incomplete == [("a", 0, "random")] and data.bad_lines == [5]
    # the episodes recorded again land on lines of their own; the fragment stays, alone
    append_episode(path, episode("a", 0, "random", 3))
    append_episode(path, episode("b", 1, "random", 1))
    lines = path.read_text().splitlines()
    assert lines[4] == whole[: len(whole) // 2] and json.loads(lines[5])["task"] == "a"
    data = read_transitions(path)
    assert data.complete == {("a", 0, "oracle"), ("a", 0, "random"), ("b", 1, "random")}
    assert data.bad_lines == [5] and not data.incomplete
    assert [t.step for t in data.transitions if t.key == ("a", 0, "random")] == [0, 1, 2]
    assert read_transitions(tmp_path / "missing.jsonl").transitions == []


def test_episodes_of_a_plan() -> None:
    plan = RecordPlan(("enter-text", "click-scroll-list"), (0, 1), (7,))
    assert episodes_of(plan) == [("enter-text", 0, "oracle"), ("enter-text", 1, "oracle"),
                                 ("enter-text", 7, "random"), ("click-scroll-list", 7, "random")]


@pytest.mark.browser
def test_a_real_recording_resumes(web_host: WebHost, tmp_path: Path) -> None:
    path = tmp_path / "dev.jsonl"
    plan = RecordPlan(("enter-text", "choose-list"), oracle_seeds=(0,), random_seeds=(0,),
                      random_steps=2)

    def record() -> RecordSummary:
        return web_host.run(record_into(path, plan, web_host.browser, web_host.base_url),
                            timeout=600)

    first = record()
    assert first.episodes == 4 and not first.failed
    data = read_transitions(path)
    assert len(data.transitions) == first.transitions
    oracle = [t for t in data.transitions if t.key == ("enter-text", 0, "oracle")]
    assert [t.action.split("(")[0] for t in oracle] == ["fill", "click"]
    assert oracle[-1].reward == 1.0 and oracle[-1].done and oracle[0].url.startswith("/miniwob/")
    assert oracle[1].before == oracle[0].after
    change = real_change(oracle[0].before, oracle[0].after)
    assert len(change.changed) == 1 and not change.added and not change.removed
    assert all(t.episode_steps <= 2 for t in data.transitions if t.source == "random")
    # run again: nothing to do; cut the last line: that episode is recorded again
    assert record().skipped == 4
    text = path.read_text()
    path.write_text(text[: len(text) - 40])
    last = data.transitions[-1]
    third = record()
    assert third.episodes == 1 and third.bad_lines
    again = read_transitions(path)
    assert again.complete == data.complete and not again.incomplete
    redone = [t for t in again.transitions if t.key == last.key]
    assert redone[-1].action == last.action  # seeded: the same episode again
