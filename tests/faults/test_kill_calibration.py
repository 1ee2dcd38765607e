"""`worldplan calibrate` killed with SIGKILL at seeded random moments and resumed with
`--resume` until it completes (tests.faults.harness): the CLI in a subprocess against a
deterministic scripted model over real HTTP. After every kill the database holds only whole
rows; the completed run equals an uninterrupted one (every probe and grid episode: pass@1,
answers, rewards, exact tokens, the calls stored under each) and no request whose answer
was stored was sent again (a completed probe that grid episodes still need is replayed from
its stored calls).

3 problems, 2 at a time, budgets 2 and 4, a best-of-N and a beam configuration;
WORLDPLAN_FAULT_KILLS kill points in all (20 by default)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import OpenAIServer
from tests.faults.harness import CLI, KILLS, Switch, drive, reference, switched
from tests.faults.models import math_respond, write_problems

PER_CASE = 4  # kill points per run


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Switch, OpenAIServer, str]]:
    with switched(math_respond) as served:
        yield served


def calibrate_args(data: Path, db: Path, url: str) -> list[str]:
    return [*CLI, "calibrate", "--dataset", str(data), "--limit", "3", "--budgets", "2,4",
            "--grid", "best_of_n;beam:n_beams=2,width=1", "--oracle-samples", "3",
            "--probe-n", "2", "--max-tokens", "24", "--step-max-tokens", "10",
            "--concurrency", "2", "--seed", "5", "--db", str(db), "--llm-url", url]


@pytest.mark.slow
def test_calibration_killed_at_random_moments_resumes_to_the_same_result(
        served: tuple[Switch, OpenAIServer, str], tmp_path: Path) -> None:
    switch, server, url = served
    data = write_problems(tmp_path / "problems.jsonl", 3)
    db = tmp_path / "ref.db"
    ref = reference(switch, calibrate_args(data, db, url), db, "calibrate")
    assert len(ref.snap.episodes) == 3 * (1 + 2 * 2)
    rng = random.Random(16)
    kills, case = 0, 0
    while kills < KILLS:
        db = tmp_path / f"case{case}.db"

        def resume(run_id: int, db: Path = db) -> list[str]:
            return [*CLI, "calibrate", "--resume", str(run_id), "--db", str(db),
                    "--llm-url", url]

        work = tmp_path / f"case{case}"
        work.mkdir()
        _, log = drive(switch, server, db, "calibrate", calibrate_args(data, db, url), resume,
                       ref, min(PER_CASE, KILLS - kills), rng, work)
        print(f"case {case}: {log}")
        kills += log.kills
        case += 1
    assert kills >= KILLS
