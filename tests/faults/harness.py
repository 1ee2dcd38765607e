"""Fault injection: runs killed with SIGKILL at seeded random moments and resumed until they
complete (the kill itself: tests.faults.switch; the checks: tests.faults.snapshot).

`reference(switch, cmd, db, kind)` runs a command to the end, uninterrupted. `drive(...)`
runs the same command in a subprocess, kills it at a seeded moment (the n-th request, a
time after its first request, or a time since it started), checks the database
(`snapshot`), resumes the run (or starts it again when the kill came before its run row),
and repeats until the planned kills are spent and the run completes; then it checks the
completed run against the reference (`check_final`).

Profile: WORLDPLAN_FAULT_KILLS kill points per runner (default 20, the CI profile).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.openai_server import OpenAIServer
from tests.faults.snapshot import Snapshot, check_final, snapshot
from tests.faults.switch import Switch, kill, switched, wait_idle

__all__ = ["CLI", "KILLS", "PYTHON", "REPO", "CaseLog", "Reference", "Snapshot", "Switch",
           "check_final", "drive", "reference", "snapshot", "switched", "wait_idle"]

REPO = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("WORLDPLAN_FAULT_KILLS", "20"))
PYTHON = sys.executable
CLI = [PYTHON, "-m", "worldplan.agent.cli.main"]


@dataclass
class CaseLog:
    kills: int = 0  # SIGKILLs that landed
    segments: int = 0  # processes started
    by_time: int = 0  # kills by time rather than by request count
    strays: int = 0  # requests of killed processes that reached the server after the kill
    seconds: float = 0.0


@dataclass(frozen=True)
class Reference:
    """An uninterrupted run: what it stored, and how long it took (seconds)."""

    snap: Snapshot
    seconds: float  # the whole process
    work_s: float  # from its first request to its last


def reference(switch: Switch, cmd: Sequence[str], db: Path, kind: str) -> Reference:
    """Run a command to the end, uninterrupted."""
    switch.begin()
    t0 = time.time()
    r = subprocess.run(list(cmd), cwd=REPO, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    times = switch.times[-1]
    return Reference(snapshot(db, kind, ports=switch.ports), time.time() - t0,
                     times[-1] - times[0])


def drive(switch: Switch, server: OpenAIServer, db: Path, kind: str,
          first: Sequence[str], resume: Callable[[int], Sequence[str]], reference: Reference,
          kills: int, rng: random.Random, tmp: Path) -> tuple[Snapshot, CaseLog]:
    """Run, kill at seeded moments, resume; returns the final snapshot and the log.

    A kill point is, at random: the n-th request of the process (60%, n uniform over the
    requests left, then a 0-30 ms delay), a time after its first request (30%, uniform
    over the work left), or a time since it started (10%: start-up and shut-down too)."""
    log = CaseLog()
    t0, strays = time.time(), switch.strays
    ref = reference.snap
    total = sum(ref.calls.values())
    first_segment = len(switch.segments)
    starts: list[Snapshot] = []
    while True:
        snap = snapshot(db, kind, ports=switch.ports)
        if snap.complete:
            break
        cmd = list(first) if snap.run_id is None else list(resume(snap.run_id))
        left = max(1, total - sum(snap.calls.values()))
        mode = rng.random() if log.kills < kills else None
        by_time = mode is not None and mode >= 0.6
        kill_at = rng.randint(1, left) if mode is not None and not by_time else None
        work = reference.work_s * left / total
        switch.begin(kill_at, rng.uniform(0.0, 0.03))
        starts.append(snap)
        out = tmp / f"segment{log.segments}.log"
        with out.open("wb") as fh:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONPATH": str(REPO)})
            switch.attach(proc)
            log.segments += 1
            if by_time:
                assert mode is not None
                if mode < 0.9:  # during the work: after the first request
                    while not switch.first.wait(0.05) and proc.poll() is None:
                        pass
                    wait_s = rng.uniform(0.0, work)
                else:  # any time, start-up and shut-down included
                    wait_s = rng.uniform(0.0, reference.seconds * (0.3 + 0.7 * left / total))
                try:
                    proc.wait(timeout=wait_s)
                except subprocess.TimeoutExpired:
                    kill(proc)
            rc = proc.wait(timeout=600)
        wait_idle(server)
        if rc == -signal.SIGKILL:
            log.kills += 1
            log.by_time += by_time
            continue
        assert rc == 0, f"{' '.join(cmd)} exited {rc}:\n{out.read_text()[-3000:]}"
    final = snapshot(db, kind, ports=switch.ports)
    check_final(final, ref, switch, starts, first_segment)
    log.seconds, log.strays = time.time() - t0, switch.strays - strays
    return final, log
