"""The model server stops mid-run and comes back on the same port (tests.faults.harness).

At the n-th request the scripted server drops that request's connection (it dies while
answering) and closes its socket; it listens again on the same port `down_s` seconds later.
A short outage (1.5 s) is ridden out by the client's retries (4 attempts over ~3.5 s): the
run completes as an uninterrupted one would, with no failed call stored. A long one (6 s)
outlasts them: the run fails with one line naming the server (math, calibrate; the web
agent fails the episodes and completes the run), and `--resume` completes it. Either way
nothing is lost or duplicated: every episode equals the uninterrupted run's, every answered
call is stored once, and the resume asks nothing it had stored. Runners: `worldplan math`,
`worldplan calibrate` (the CLI in a subprocess) and the web agent (tests.faults.web_child).
The CI profile has an early short and a long outage per runner; WORLDPLAN_FAULT_KILLS > 20
adds a late one of each."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import Answer, Failure, OpenAIServer
from tests.fakes.web import ScriptedWebLLM, prompt_words
from tests.faults.harness import (
    CLI,
    KILLS,
    REPO,
    Snapshot,
    Switch,
    check_final,
    snapshot,
    wait_idle,
)
from tests.faults.models import math_respond, write_problems
from tests.faults.test_kill_calibration import calibrate_args
from tests.faults.test_kill_math import math_args
from tests.faults.test_kill_web import CHILD
from worldplan.worldmodel.llm.serving import free_port

RIDE_OUT_S, OUTLAST_S = 1.5, 6.0  # the client retries for ~3.5 s (backoff 0.5, 1, 2 s)


class Outage:
    """A scripted server that dies at its `at`-th request and is back `down_s` later."""

    def __init__(self, respond: Callable[[dict[str, Any]], Answer], at: int,
                 down_s: float) -> None:
        self.switch, self.at, self.down_s = Switch(respond), at, down_s
        self.server = OpenAIServer(self._respond, tokenize=prompt_words)
        self.port, self.seen = free_port(), 0
        self.back = threading.Event()
        self._serving: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._serving = self.server.serve(delay_s=0.01, port=self.port)
        self._serving.__enter__()

    def stop(self) -> None:
        self._serving.__exit__(None, None, None)

    def _respond(self, body: dict[str, Any]) -> Answer:
        self.seen += 1
        if self.seen == self.at:
            threading.Thread(target=self._outage).start()
            return Failure("connect")  # the connection drops: no answer
        return self.switch(body)

    def _outage(self) -> None:
        self.stop()
        time.sleep(self.down_s)
        self.start()
        self.back.set()


def math_cmds(tmp: Path, db: Path, url: str) -> tuple[list[str], list[str]]:
    data = write_problems(tmp / "problems.jsonl", 6)
    return (math_args(data, "best_of_n", db, url),
            [*CLI, "math", "--resume", "1", "--db", str(db), "--llm-url", url])


def calibrate_cmds(tmp: Path, db: Path, url: str) -> tuple[list[str], list[str]]:
    data = write_problems(tmp / "problems.jsonl", 3)
    return (calibrate_args(data, db, url),
            [*CLI, "calibrate", "--resume", "1", "--db", str(db), "--llm-url", url])


def web_cmds(tmp: Path, db: Path, url: str) -> tuple[list[str], list[str]]:
    return [*CHILD, str(db), url, "best-of-n"], [*CHILD, str(db), url, "--resume", "1"]


RUNNERS = {"math": (math_cmds, math_respond), "calibrate": (calibrate_cmds, math_respond),
           "web": (web_cmds, ScriptedWebLLM().answer)}


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Snapshot]]:
    tmp = tmp_path_factory.mktemp("refs")
    out = {}
    for kind, (cmds, respond) in RUNNERS.items():
        with OpenAIServer(respond, tokenize=prompt_words).serve() as url:
            db = tmp / f"{kind}.db"
            first, _ = cmds(tmp, db, url)
            run(first)
            out[kind] = snapshot(db, kind)
    yield out


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(RUNNERS))
@pytest.mark.parametrize("at, down_s", [
    (5, RIDE_OUT_S), (9, OUTLAST_S),
    pytest.param(17, RIDE_OUT_S, marks=pytest.mark.skipif(
        KILLS <= 20, reason="the larger profile (WORLDPLAN_FAULT_KILLS > 20)")),
    pytest.param(23, OUTLAST_S, marks=pytest.mark.skipif(
        KILLS <= 20, reason="the larger profile (WORLDPLAN_FAULT_KILLS > 20)")),
], ids=["early-short", "long", "late-short", "late-long"])
def test_server_down_and_back_mid_run(references: dict[str, Snapshot], tmp_path: Path,
                                      kind: str, at: int, down_s: float) -> None:
    cmds, respond = RUNNERS[kind]
    outage = Outage(respond, at, down_s)
    outage.start()
    try:
        db = tmp_path / "t.db"
        first, resume = cmds(tmp_path, db, outage.url)
        outage.switch.begin()
        r = run(first)
        assert outage.back.wait(30), "the outage never happened"
        wait_idle(outage.server)
        starts = [Snapshot()]
        after = snapshot(db, kind)
        if down_s == RIDE_OUT_S:
            assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
            assert after.complete and after.errors == 0  # ridden out: nothing failed
        elif kind == "web":  # the agent fails the episodes, and completes the run
            assert r.returncode == 0 and not after.complete and after.errors > 0
        else:
            assert r.returncode == 1 and "Traceback" not in r.stdout + r.stderr
            said = [ln for ln in (r.stdout + r.stderr).splitlines() if "error" in ln.lower()]
            assert len(said) == 1 and f"127.0.0.1:{outage.port}" in said[0], (r.stdout,
                                                                               r.stderr)
        if not after.complete:
            outage.switch.begin()
            starts.append(after)
            r = run(resume)
            assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        final = snapshot(db, kind)
        check_final(final, references[kind], outage.switch, starts, 1,
                    failed_calls=down_s == OUTLAST_S)
        print(f"{kind} at request {at}, down {down_s} s: {len(starts)} process(es), "
              f"{final.errors} failed call(s) stored")
    finally:
        outage.stop()
