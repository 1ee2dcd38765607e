"""What a trace database must hold after any kill, and after the resumed run completes.

`snapshot(db, kind)` reads a trace database with plain sqlite3 and checks what must hold
at ANY moment, killed or not: every JSON column parses; no two episodes share their natural
key (math: task; calibrate: task, phase, budget, configuration; web: task, seed); no two
steps share (episode, index, attempt); no completed episode lacks its steps (a calibration
probe: its samples), and its call total is the calls stored under it. `check_final(...)`
checks a completed run against an uninterrupted one: the same episodes, all completed, with
the same answers, rewards, actions and exact token counts, the same stored calls under each
episode, and no request sent while its answer was stored (per segment, per key: sent <=
reference - stored at the segment's start).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.faults.switch import Switch, port_free
from worldplan.traces.store import call_cache_key

JSON_COLUMNS = {"run": ("llm_urls", "config", "versions"), "episode": ("info",),
                "step": ("decision", "info"), "searchnode": ("scores", "info"),
                "llmcall": ("completions", "finish_reasons", "params", "extra", "tags")}
EPISODE_FIELDS = ("status", "answer", "reward", "success", "prompt_tokens",
                  "completion_tokens", "generations", "llm_calls")


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
