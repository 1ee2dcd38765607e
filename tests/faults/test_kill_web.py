"""A web agent run killed with SIGKILL at seeded random moments and resumed until it
completes (tests.faults.harness): the real graph, LangGraph checkpointer and trace store in
a subprocess (tests.faults.web_child) over the scripted form page, against the scripted web
model over real HTTP. After every kill the database holds only whole rows (no step stored
twice, no completed episode without its steps); the completed run equals an uninterrupted
one (rewards, actions, exact tokens, the calls stored under each episode) and no request
whose answer was stored was sent again.

Cases alternate the best-of-n and compute-optimal strategies; WORLDPLAN_FAULT_KILLS kill
points in all (20 by default). A few more kill `worldplan web --strategy best-of-n` itself on
a real MiniWoB++ page in Chromium (marked browser), resumed with `worldplan web --resume`."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import OpenAIServer
from tests.fakes.web import ScriptedWebLLM, prompt_words
from tests.faults.harness import CLI, KILLS, PYTHON, Switch, drive, reference, switched

STRATEGIES = ("best-of-n", "compute-optimal")
PER_CASE = 4  # kill points per run
BROWSER_KILLS = max(4, KILLS // 5)  # kill points of the CLI in the real browser
CHILD = [PYTHON, "-m", "tests.faults.web_child"]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Switch, OpenAIServer, str]]:
    with switched(ScriptedWebLLM().answer, tokenize=prompt_words) as served:
        yield served


@pytest.mark.slow
def test_web_run_killed_at_random_moments_resumes_to_the_same_result(
        served: tuple[Switch, OpenAIServer, str], tmp_path: Path) -> None:
    switch, server, url = served
    refs = {}
    for strategy in STRATEGIES:
        db = tmp_path / f"ref-{strategy}.db"
        refs[strategy] = reference(switch, [*CHILD, str(db), url, strategy], db, "web")
        assert all(e["reward"] == 1.0 for e in refs[strategy].snap.episodes.values())
    rng = random.Random(16)
    kills, case = 0, 0
    while kills < KILLS:
        strategy = STRATEGIES[case % len(STRATEGIES)]
        db = tmp_path / f"case{case}.db"

        def resume(run_id: int, db: Path = db) -> list[str]:
            return [*CHILD, str(db), url, "--resume", str(run_id)]

        work = tmp_path / f"case{case}"
        work.mkdir()
        _, log = drive(switch, server, db, "web", [*CHILD, str(db), url, strategy], resume,
                       refs[strategy], min(PER_CASE, KILLS - kills), rng, work)
        print(f"case {case} ({strategy}): {log}")
        kills += log.kills
        case += 1
    assert kills >= KILLS


@pytest.mark.slow
@pytest.mark.browser
def test_web_cli_in_the_browser_killed_and_resumed(tmp_path: Path) -> None:
    """Prompts show the page's URL, whose port is new in every process: calls are compared
    with local ports blanked."""
    with switched(ScriptedWebLLM().answer, ports=False,
                  tokenize=prompt_words) as (switch, server, url):
        browser_cases(switch, server, url, tmp_path)


def browser_cases(switch: Switch, server: OpenAIServer, url: str, tmp_path: Path) -> None:

    def web(db: Path) -> list[str]:
        return [*CLI, "web", "--task", "click-test", "--task", "click-button", "--strategy",
                "best-of-n", "--seeds", "2", "--parallel", "2", "--max-steps", "3",
                "--budget", "300", "--llm-url", url, "--db", str(db)]

    db = tmp_path / "ref.db"
    ref = reference(switch, web(db), db, "web")
    rng = random.Random(15)
    kills, case = 0, 0
    while kills < BROWSER_KILLS:
        db = tmp_path / f"case{case}.db"

        def resume(run_id: int, db: Path = db) -> list[str]:
            return [*CLI, "web", "--resume", str(run_id), "--llm-url", url, "--db", str(db)]

        work = tmp_path / f"case{case}"
        work.mkdir()
        _, log = drive(switch, server, db, "web", web(db), resume, ref,
                       min(PER_CASE, BROWSER_KILLS - kills), rng, work)
        print(f"browser case {case}: {log}")
        kills += log.kills
        case += 1

