"""Fault injection: runs killed with SIGKILL at seeded random moments and resumed until they
complete, and the invariants their trace database must keep at every moment.

`Switch(respond)` wraps a scripted server's respond function: it counts every request by
the cache key the store gives the call (traces.cache.request_key) per segment (one
process's life), and can SIGKILL the segment's process when the segment's n-th request
arrives, after a short seeded delay, so that kills land inside requests and between them
(database writes, grading, checkpoints). `drive(...)` runs a command in a subprocess, kills
it at a seeded moment (the n-th request, or a time since start), checks the database,
resumes the run (or starts it again when the kill came before its run row), and repeats
until the planned kills are spent and the run completes.

`snapshot(db, kind)` reads a trace database with plain sqlite3 and checks what must hold
after any kill: every JSON column parses; no two episodes share their natural key (math:
task; calibrate: task, phase, budget, configuration; web: task, seed); no two steps share
(episode, index, attempt); no completed episode lacks its steps (a calibration probe: its
samples). `check_final(...)` checks a completed run against an uninterrupted one: the same
episodes, all completed, with the same answers, rewards, actions and exact token counts,
the same stored calls under each episode, and no request sent while its answer was stored
(per segment, per key: sent <= reference - stored at the segment's start).

Profile: WORLDPLAN_FAULT_KILLS kill points per runner (default 20, the CI profile).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.openai_server import Answer, OpenAIServer
from worldplan.traces.cache import request_key
from worldplan.traces.store import call_cache_key

REPO = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("WORLDPLAN_FAULT_KILLS", "20"))
JSON_COLUMNS = {"run": ("llm_urls", "config", "versions"), "episode": ("info",),
                "step": ("decision", "info"), "searchnode": ("scores", "info"),
                "llmcall": ("completions", "finish_reasons", "params", "extra", "tags")}
EPISODE_FIELDS = ("status", "answer", "reward", "success", "prompt_tokens",
                  "completion_tokens", "generations", "llm_calls")


PORT = re.compile(r"127\.0\.0\.1:\d+")


def port_free(text: str) -> str:
    """Text with local ports blanked: the real browser's page server takes a new port in
    every process, and prompts show the page's URL."""
    return PORT.sub("127.0.0.1:PORT", text)


def key_of(body: dict[str, Any], ports: bool = True) -> str:
    """The cache key the store gives a request's call (`ports` False: ports blanked)."""
    path = "/v1/chat/completions" if "messages" in body else "/v1/completions"
    if not ports:
        body = json.loads(port_free(json.dumps(body)))
    return request_key(path, body)[1]


class Switch:
    """A respond function that counts requests per segment and kills on the n-th."""

    def __init__(self, respond: Callable[[dict[str, Any]], Answer], ports: bool = True) -> None:
        self.respond, self.ports = respond, ports
        self.segments: list[Counter[str]] = [Counter()]
        self.times: list[list[float]] = [[]]  # when each request of a segment arrived
        self.first = threading.Event()  # the segment's first request arrived
        self._lock = threading.Lock()
        self._kill_at: int | None = None
        self._delay = 0.0
        self._proc: subprocess.Popen[bytes] | None = None

    def begin(self, kill_at: int | None = None, delay_s: float = 0.0) -> None:
        with self._lock:
            self.segments.append(Counter())
            self.times.append([])
            self.first.clear()
            self._kill_at, self._delay, self._proc = kill_at, delay_s, None

    def attach(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc

    def __call__(self, body: dict[str, Any]) -> Answer:
        with self._lock:
            seg = self.segments[-1]
            seg[key_of(body, self.ports)] += 1
            self.times[-1].append(time.time())
            self.first.set()
            fire = self._kill_at is not None and sum(seg.values()) == self._kill_at
            proc = self._proc
        if fire and proc is not None:
            threading.Timer(self._delay, kill, args=(proc,)).start()
        return self.respond(body)


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)


def wait_idle(server: OpenAIServer, quiet_s: float = 0.3, timeout_s: float = 30.0) -> None:
    """Until the server has answered (or dropped) every request of a dead process: nothing
    in flight, and no request for `quiet_s` seconds (on a loaded machine a request sent
    just before the kill can reach the server's handler a while later)."""
    deadline = time.time() + timeout_s
    seen = len(server.requests)
    quiet_since = time.time()
    while time.time() < deadline:
        if server.in_flight or len(server.requests) != seen:
            seen, quiet_since = len(server.requests), time.time()
        elif time.time() - quiet_since >= quiet_s:
            return
        time.sleep(0.01)


# ---- what the database holds --------------------------------------------------------------

def natural_key(kind: str, ep: dict[str, Any]) -> tuple[Any, ...]:
    info = ep["info"]
    if kind == "calibrate":
        return (ep["task_id"], info.get("phase"), info.get("budget"), info.get("config"))
    if kind == "web":
        return (ep["task_id"], ep["seed"])
    return (ep["task_id"],)


@dataclass
class Snapshot:
    runs: list[dict[str, Any]] = field(default_factory=list)
    episodes: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)  # answered calls per cache key
    errors: int = 0  # stored failed calls

    @property
    def run_id(self) -> int | None:
        return self.runs[0]["id"] if self.runs else None

    @property
    def complete(self) -> bool:
        return bool(self.runs) and self.runs[0]["status"] == "completed" and all(
            e["status"] == "completed" for e in self.episodes.values())


def _rows(con: sqlite3.Connection, table: str) -> list[dict[str, Any]]:
    cur = con.execute(f"select * from {table} order by id")
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    for r in rows:
        for col in JSON_COLUMNS.get(table, ()):
            try:
                r[col] = json.loads(r[col]) if r[col] is not None else None
            except ValueError as e:
                raise AssertionError(f"half-written row: {table} {r['id']} {col}: {e}") from e
    return rows


def snapshot(db: Path, kind: str, run_id: int | None = None, ports: bool = True) -> Snapshot:
    """Read the database (only run `run_id`'s rows if given) and check the invariants that
    hold after any kill; `ports` False keys calls with local ports blanked."""
    if not db.exists():
        return Snapshot()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        tables = {r[0] for r in con.execute("select name from sqlite_master")}
        if "llmcall" not in tables:  # killed while creating the database
            return Snapshot()
        runs, eps = _rows(con, "run"), _rows(con, "episode")
        steps, nodes, calls = (_rows(con, "step"), _rows(con, "searchnode"),
                               _rows(con, "llmcall"))
    finally:
        con.close()
    if run_id is not None:
        runs = [r for r in runs if r["id"] == run_id]
        eps = [e for e in eps if e["run_id"] == run_id]
        calls = [c for c in calls if c["run_id"] == run_id]
        steps = [st for st in steps if st["episode_id"] in {e["id"] for e in eps}]
        nodes = [n for n in nodes if n["episode_id"] in {e["id"] for e in eps}]
    assert len(runs) <= 1, f"{len(runs)} runs in one case"
    snap = Snapshot(runs)
    by_id: dict[int, dict[str, Any]] = {}
    for e in eps:
        key = natural_key(kind, e)
        assert key not in snap.episodes, f"duplicated episode {key}"
        e.update(steps=[], nodes=0, call_keys=Counter())
        snap.episodes[key] = by_id[e["id"]] = e
    seen_steps = set()
    for st in steps:
        skey = (st["episode_id"], st["index"], (st["info"] or {}).get("attempt"))
        assert skey not in seen_steps, f"duplicated step {skey}"
        seen_steps.add(skey)
        by_id[st["episode_id"]]["steps"].append(
            (st["index"], st["action"], st["reward"], st["terminated"]))
    for n in nodes:
        by_id[n["episode_id"]]["nodes"] += 1
    for c in calls:
        if c["error"]:
            snap.errors += 1
            continue
        if not ports:
            c["cache_key"] = call_cache_key(c["endpoint"], c["model"], port_free(c["prompt"]),
                                            json.loads(port_free(json.dumps(c["params"]))))
        snap.calls[c["cache_key"]] += 1
        if c["episode_id"] is not None:
            by_id[c["episode_id"]]["call_keys"][(c["role"], c["cache_key"])] += 1
    for key, e in snap.episodes.items():
        if e["status"] == "completed":
            _check_whole(kind, key, e)
    return snap


def _check_whole(kind: str, key: tuple[Any, ...], e: dict[str, Any]) -> None:
    indexes = sorted(s[0] for s in e["steps"])
    if kind == "web":
        assert indexes == list(range(int(e["info"].get("steps", 0)))), (key, indexes)
    elif kind == "calibrate" and e["info"].get("phase") == "probe":
        assert e["nodes"] >= 1, f"completed probe {key} without its samples"
    else:
        assert indexes == [0], f"completed episode {key} without its step: {indexes}"
    assert e["llm_calls"] == sum(e["call_keys"].values()), f"{key}: call totals"


def check_final(final: Snapshot, ref: Snapshot, switch: Switch,
                starts: Sequence[Snapshot], first_segment: int, *,
                failed_calls: bool = False) -> None:
    """A completed, resumed run equals the uninterrupted reference, and no stored answer
    was asked again; `failed_calls`: the rows of calls that failed (a server outage) are
    kept beside the answered ones."""
    assert final.complete, [(k, e["status"]) for k, e in final.episodes.items()]
    assert ref.errors == 0 and (failed_calls or final.errors == 0)
    assert set(final.episodes) == set(ref.episodes), "lost or extra episodes"
    for key, e in ref.episodes.items():
        got = final.episodes[key]
        for f in EPISODE_FIELDS:
            assert got[f] == e[f], f"{key}: {f} {got[f]!r} != {e[f]!r} (uninterrupted)"
        assert sorted(got["steps"]) == sorted(e["steps"]), f"{key}: steps differ"
        assert got["nodes"] == e["nodes"], f"{key}: search nodes differ"
        assert got["call_keys"] == e["call_keys"], f"{key}: stored calls differ"
    assert final.calls == ref.calls
    for i, start in enumerate(starts):
        sent = switch.segments[first_segment + i]
        for k, n in sent.items():
            assert n <= ref.calls[k] - start.calls[k], (
                f"segment {i}: a request asked {n} times, with {start.calls[k]} of its "
                f"{ref.calls[k]} answers stored")


# ---- driving a run through kills ----------------------------------------------------------

@dataclass
class CaseLog:
    kills: int = 0  # SIGKILLs that landed
    segments: int = 0  # processes started
    by_time: int = 0  # kills by time rather than by request count
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
    t0 = time.time()
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
    log.seconds = time.time() - t0
    return final, log


PYTHON = sys.executable
CLI = [PYTHON, "-m", "worldplan.agent.cli.main"]
