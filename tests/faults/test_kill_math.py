"""`worldplan math` killed with SIGKILL at seeded random moments and resumed until it
completes (tests.faults.harness): the CLI in a subprocess against a deterministic scripted
model over real HTTP. After every kill the database holds only whole rows; the completed run
equals an uninterrupted one (answers, rewards, actions, exact tokens, the calls stored under
each problem) and no request whose answer was stored was sent again.

Cases alternate best-of-N and beam search, 6 problems, 2 at a time; WORLDPLAN_FAULT_KILLS
kill points in all (20 by default)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import OpenAIServer
from tests.faults.harness import CLI, KILLS, Switch, drive, reference, switched
from tests.faults.models import math_respond, write_problems

STRATEGIES = {"best_of_n": ["--budget", "6"],
              "beam": ["--budget", "8", "-p", "n_beams=2", "-p", "width=1"]}
PER_CASE = 4  # kill points per run


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Switch, OpenAIServer, str]]:
    with switched(math_respond) as served:
        yield served


def math_args(data: Path, strategy: str, db: Path | str, url: str) -> list[str]:
    return [*CLI, "math", "--dataset", str(data), "--limit", "6", "--strategy", strategy,
            *STRATEGIES[strategy], "--max-tokens", "24", "--step-max-tokens", "10",
            "--concurrency", "2", "--seed", "3", "--db", str(db), "--llm-url", url]


@pytest.mark.slow
def test_math_run_killed_at_random_moments_resumes_to_the_same_result(
        served: tuple[Switch, OpenAIServer, str], tmp_path: Path) -> None:
    switch, server, url = served
    data = write_problems(tmp_path / "problems.jsonl", 6)
    refs = {}
    for strategy in STRATEGIES:
        db = tmp_path / f"ref-{strategy}.db"
        refs[strategy] = reference(switch, math_args(data, strategy, db, url), db, "math")
    rng = random.Random(16)
    kills, case = 0, 0
    while kills < KILLS:
        strategy = list(STRATEGIES)[case % len(STRATEGIES)]
        db = tmp_path / f"case{case}.db"

        def resume(run_id: int, db: Path = db) -> list[str]:
            return [*CLI, "math", "--resume", str(run_id), "--db", str(db), "--llm-url", url]

        work = tmp_path / f"case{case}"
        work.mkdir()
        _, log = drive(switch, server, db, "math", math_args(data, strategy, db, url), resume,
                       refs[strategy], min(PER_CASE, KILLS - kills), rng, work)
        print(f"case {case} ({strategy}): {log}")
        kills += log.kills
        case += 1
    assert kills >= KILLS
