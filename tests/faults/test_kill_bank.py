"""`worldplan bank build` killed with SIGKILL and run again: the CLI in a subprocess against
a deterministic scripted model over real HTTP (tests.faults.switch). Every call whose
answer was stored before the kill is not asked again (counted: the second process sends
exactly the reference's requests minus the stored ones), and the finished bank equals an
uninterrupted build, unit for unit.

3 problems, K=3 samples, 2 revision chains of 3 attempts, beam at budgets 1 and 2; kill
points spread over the reference's requests (seeded)."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import OpenAIServer
from tests.faults.harness import CLI, REPO, Switch, switched, wait_idle
from tests.faults.models import math_respond, write_problems

KILL_POINTS = 4


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Switch, OpenAIServer, str]]:
    with switched(math_respond) as served:
        yield served


def build_args(data: Path, out: Path, db: Path, url: str) -> list[str]:
    return [*CLI, "bank", "build", "-o", str(out), "--dataset", str(data), "--limit", "3",
            "--k", "3", "--chains", "2", "--length", "3", "--searches", "beam:1,2",
            "--max-tokens", "24", "--concurrency", "2", "--seed", "5", "--db", str(db),
            "--llm-url", url]


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def units(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    lines = path.read_text().splitlines()[1:]
    recs = [json.loads(line) for line in lines if line.strip()]
    return {(r["uid"], r["unit"]): {k: v for k, v in r.items() if k != "run"} for r in recs}


def stored_calls(db: Path) -> int:
    with sqlite3.connect(db) as c:
        return int(c.execute("select count(*) from llmcall where error = '' or error is null")
                   .fetchone()[0])


@pytest.mark.slow
def test_a_killed_bank_build_resumes_without_asking_a_stored_call_again(
        served: tuple[Switch, OpenAIServer, str], tmp_path: Path) -> None:
    switch, server, url = served
    data = write_problems(tmp_path / "problems.jsonl", 3)
    switch.begin()
    run(build_args(data, tmp_path / "ref.jsonl", tmp_path / "ref.db", url))
    total = sum(switch.segments[-1].values())
    ref = units(tmp_path / "ref.jsonl")
    assert len(ref) == 3 * (1 + 2 + 2) and total == stored_calls(tmp_path / "ref.db")
    rng = random.Random(13)
    points = sorted(rng.sample(range(2, total - 1), KILL_POINTS))
    for case, kill_at in enumerate(points):
        out, db = tmp_path / f"case{case}.jsonl", tmp_path / f"case{case}.db"
        switch.begin(kill_at=kill_at, delay_s=rng.uniform(0.0, 0.03))
        proc = subprocess.Popen(build_args(data, out, db, url), cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
        switch.attach(proc)
        assert proc.wait(timeout=600) == -9, f"case {case}: not killed at request {kill_at}"
        wait_idle(server)
        stored = stored_calls(db)
        built_before = len(units(out)) if out.exists() else 0
        switch.begin()
        r = run(build_args(data, out, db, url))
        asked = sum(switch.segments[-1].values())
        print(f"case {case}: killed at request {kill_at}/{total}, {stored} calls stored, "
              f"{built_before} units written; the resumed build asked {asked}")
        assert asked == total - stored, r.stdout[-2000:]
        assert units(out) == ref
