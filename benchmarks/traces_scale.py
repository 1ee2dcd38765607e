"""Scale of the trace read side: `runs`, `report` and `compare` on a large database.

Builds a trace database of 10,000 episodes and 1,000,000 LLM-call rows (two runs over the
same 5,000 problems by default, 100 calls, 1 step and 5 search nodes per episode; bulk
inserts with executemany through SQLAlchemy's connection), then times each command through
the real CLI (Typer's CliRunner, in process, warm OS file cache). Each must finish in under
10 seconds. Prints a table and writes benchmarks/results/traces_scale.json.

    .venv/bin/python benchmarks/traces_scale.py [--episodes 10000] [--calls 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from worldplan.agent.cli.app import app
from worldplan.traces.engine import make_engine

RESULTS = Path(__file__).resolve().parent / "results" / "traces_scale.json"
LIMIT_S = 10.0


def build(path: Path, n_episodes: int, n_calls: int, n_runs: int, seed: int = 0
          ) -> dict[str, float]:
    rng = random.Random(seed)
    engine = make_engine(str(path))
    t0 = time.perf_counter()
    per_run = n_episodes // n_runs
    calls_per_ep = n_calls // n_episodes
    now = time.time()
    sizes = [(rng.randint(50, 300), rng.randint(1, 200)) for _ in range(9973)]  # tokens
    with engine.begin() as c:
        for r in range(1, n_runs + 1):
            c.exec_driver_sql(
                "INSERT INTO run (id, name, kind, status, env, strategy, model, llm_urls, "
                "config, git_commit, versions, host, pid, error, started_at, heartbeat_at, "
                "ended_at) VALUES (?, ?, 'math', 'completed', 'worldplan/Math-v0', ?, 'smol', "
                "'[]', ?, '', '{}', 'bench', 0, '', ?, ?, ?)",
                (r, f"bench {r}", ["best_of_n", "beam"][r % 2],
                 json.dumps({"budget": 4 * r}), now, now + 3600, now + 3600))
    episodes, steps, nodes, calls = [], [], [], []
    ep_id = 0
    call_id = 0
    for r in range(1, n_runs + 1):
        for k in range(per_run):
            ep_id += 1
            ok = rng.random() < 0.3 + 0.1 * r
            level = k % 5 + 1
            pt, ct = 0, 0
            for j in range(calls_per_ep):
                call_id += 1
                p_tok, c_tok = sizes[call_id % len(sizes)]
                pt, ct = pt + p_tok, ct + c_tok
                # string formatting, not json.dumps, for speed; the same JSON text results
                prompt = f'[{{"role": "user", "content": "problem {k} step {j}: solve x"}}]'
                calls.append((call_id, r, ep_id, "verifier" if j % 2 else "proposer", "chat",
                              "http://127.0.0.1:8011", "smol", prompt,
                              f'["candidate {j} for problem {k}: x = {j}"]', '["stop"]',
                              f'{{"n": 1, "max_tokens": 256, "temperature": 0.8, '
                              f'"top_p": 1.0, "seed": {k * 100 + j}}}', "{}", 1, p_tok, c_tok,
                              None, 0.05, 2.0 * 135e6 * (p_tok + c_tok), "",
                              f"{call_id:032x}",  # unique; real keys are not read here
                              '{"step": 0}', now + call_id * 1e-3))
            episodes.append((ep_id, r, "worldplan/Math-v0", f"test/algebra/{k}.json", 0,
                             "completed", float(level), "level", "", str(k) if ok else "?",
                             str(k), 1.0 if ok else 0.0, ok, pt, ct, calls_per_ep,
                             calls_per_ep, 2.0 * 135e6 * (pt + ct), 1.5, 1,
                             json.dumps({"level": level, "subject": "Algebra"}), "", now,
                             now + 1.5))
            steps.append((ep_id, 0, f"Problem {k}", str(k) if ok else "?", float(ok), True,
                          False, "", json.dumps({"difficulty": level, "budget_left": 0,
                                                 "strategy": "best_of_n", "why": "bench"}),
                          "{}", 1.5, now))
            for n in range(5):
                nodes.append((ep_id, 0, f"n{n}", None if n == 0 else "n0", "proposal",
                              f"candidate {n}", str(n), rng.random(), "[]", int(n > 0), 10,
                              n == 1, "{}"))
        with engine.begin() as c:
            c.exec_driver_sql(
                "INSERT INTO episode (id, run_id, env, task_id, seed, status, difficulty, "
                "difficulty_source, strategy, answer, reference, reward, success, "
                "prompt_tokens, completion_tokens, generations, llm_calls, flops, "
                "wall_time_s, attempts, info, error, started_at, ended_at) "
                "VALUES (" + ",".join("?" * 24) + ")", episodes)
            c.exec_driver_sql(
                'INSERT INTO step (episode_id, "index", observation, action, reward, '
                "terminated, truncated, error, decision, info, wall_time_s, created_at) "
                "VALUES (" + ",".join("?" * 12) + ")", steps)
            c.exec_driver_sql(
                "INSERT INTO searchnode (episode_id, step_index, key, parent_key, kind, text, "
                "answer, score, scores, depth, tokens, chosen, info) VALUES ("
                + ",".join("?" * 13) + ")", nodes)
            for i in range(0, len(calls), 50_000):
                c.exec_driver_sql(
                    "INSERT INTO llmcall (id, run_id, episode_id, role, endpoint, url, model, "
                    "prompt, completions, finish_reasons, params, extra, n, prompt_tokens, "
                    "completion_tokens, cached_tokens, latency_s, flops, error, cache_key, "
                    "tags, started_at) VALUES (" + ",".join("?" * 22) + ")",
                    calls[i:i + 50_000])
        episodes, steps, nodes, calls = [], [], [], []
    build_s = time.perf_counter() - t0
    engine.dispose()
    return {"build_s": build_s, "episodes": ep_id, "llm_calls": call_id,
            "db_mb": path.stat().st_size / 1e6}


def timed(args: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one command."""
    t0, c0 = time.perf_counter(), time.process_time()
    r = CliRunner().invoke(app, args)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    if r.exit_code != 0:
        raise RuntimeError(f"worldplan {' '.join(args)} failed: {r.output}")
    return dt, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=10_000)
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--db", type=Path, default=None,
                    help="Build the database here and keep it (reused if it exists).")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="traces-scale-") as tmp:
        db = a.db or Path(tmp) / "scale.db"
        if a.db is not None and a.db.exists():
            built = {"build_s": 0.0, "episodes": a.episodes, "llm_calls": a.calls,
                     "db_mb": db.stat().st_size / 1e6, "reused": True}
        else:
            built = build(db, a.episodes, a.calls, a.runs)
        rows: list[dict[str, Any]] = []
        load = os.getloadavg()
        for name, args in (
                ("runs", ["runs", "--db", str(db)]),
                ("report", ["report", "1", "2", "-o", str(Path(tmp) / "report.html"),
                            "--db", str(db)]),
                ("compare", ["compare", "1", "2", "--csv", str(Path(tmp) / "pairs.csv"),
                             "--db", str(db)])):
            seconds, cpu = timed(args)
            rows.append({"command": f"worldplan {name}", "seconds": round(seconds, 2),
                         "cpu_s": round(cpu, 2),
                         "limit_s": LIMIT_S, "ok": seconds < LIMIT_S})
        report_mb = (Path(tmp) / "report.html").stat().st_size / 1e6
    print(f"database: {built['episodes']} episodes, {built['llm_calls']} LLM calls, "
          f"{built['db_mb']:.0f} MB, built in {built['build_s']:.1f} s; report "
          f"{report_mb:.1f} MB")
    print(f"load average before: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} "
          f"({os.cpu_count()} CPUs)")
    print(f"{'command':<20} {'wall s':>8} {'CPU s':>7} {'limit':>6}  ok")
    for r in rows:
        print(f"{r['command']:<20} {r['seconds']:>8.2f} {r['cpu_s']:>7.2f} "
              f"{r['limit_s']:>6.0f}  {r['ok']}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"database": built, "report_mb": report_mb, "results": rows,
                                 "load_average": load,
                                 "machine": platform.platform(), "python":
                                 platform.python_version()}, indent=2))
    if not all(r["ok"] for r in rows):
        raise SystemExit("a command took longer than its limit")


if __name__ == "__main__":
    main()
