"""Which MiniWoB++ tasks the action language solves: the oracle agent over `miniwob-all`.

Runs exactly what `worldplan web --agent oracle --suite miniwob-all --seeds N` runs
(agent.runs.web_command.run_web_command: the same tasks, environments, oracles and trace
store, here a temporary SQLite file), and writes the per-task table to
benchmarks/results/oracle_sweep.json: for every task of the suite, whether an oracle exists
(and whether it is reactive or reads element boxes), episodes, successes (reward 1.0),
mean reward and steps, failed episodes. A task "solved" has reward 1.0 on every seed.

    .venv/bin/python benchmarks/oracle_sweep.py [--seeds 5] [--parallel 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from worldplan.agent.runs.web_command import OnEpisode, WebRunOptions, run_web_command
from worldplan.envs.web.oracles import ORACLES, PARTIAL_REASONS, oracle_for
from worldplan.envs.web.tasks.registry import suite_tasks
from worldplan.traces.engine import make_engine
from worldplan.traces.store import TraceStore

RESULTS = Path(__file__).resolve().parent / "results" / "oracle_sweep.json"


class _Quiet:
    """The command's display, printing one dot per episode."""

    def skipped(self, tasks: Sequence[str]) -> None:
        print(f"no oracle for {len(tasks)} task(s)")

    @contextmanager
    def episodes(self, total: int, finished: int) -> Iterator[OnEpisode]:
        print(f"{total} episodes", flush=True)
        yield lambda outcome: print("." if outcome.success else "x", end="", flush=True)
        print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="episodes per task (seeds 0..N-1)")
    ap.add_argument("--parallel", type=int, default=2, help="episodes at once")
    ap.add_argument("--max-steps", type=int, default=30)
    args = ap.parse_args()
    load_before = os.getloadavg()
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/sweep.db"
        options = WebRunOptions(
            suite="miniwob-all", tasks=(), agent="oracle", strategy="", budget_tokens=None,
            search="beam", simulations=4, policy="", expand=0, judge="llm", judge_orders=1,
            judge_ranker="", world_model="llm", resume=None, llm_urls=(),
            world_model_urls=(), verifier_urls=(), seeds=args.seeds, seed_start=0,
            parallel=args.parallel, max_steps=args.max_steps, max_attempts=3,
            name="oracle sweep", db_url=db)
        result = run_web_command(options, TraceStore(make_engine(db)), _Quiet())
    wall = time.time() - t0
    rows = {r.task: asdict(r) for r in result.run.summary}
    table = []
    for task in suite_tasks("miniwob-all"):
        oracle = oracle_for(task)
        row = rows.get(task)
        table.append({
            "task": task, "oracle": oracle is not None,
            "reactive": bool(oracle and oracle.reactive), "boxes": bool(oracle and oracle.boxes),
            "episodes": row["episodes"] if row else 0,
            "successes": row["successes"] if row else 0,
            "mean_reward": row["mean_reward"] if row else None,
            "mean_steps": row["mean_steps"] if row else None,
            "failed": row["failed"] if row else 0,
            "solved": bool(row and row["successes"] == row["episodes"]),
            "known_miss": PARTIAL_REASONS.get(task, ""),
        })
    solved = [r["task"] for r in table if r["solved"]]
    partly = [r["task"] for r in table if r["oracle"] and 0 < r["successes"] < r["episodes"]]
    meta = {"suite": "miniwob-all", "tasks": len(table),
            "oracles": len(ORACLES) + len(PARTIAL_REASONS), "partial_oracles": len(PARTIAL_REASONS),
            "seeds": list(result.seeds), "parallel": args.parallel,
            "max_steps": args.max_steps, "solved_every_seed": len(solved),
            "solved_some_seeds": len(partly), "episodes": sum(r["episodes"] for r in table),
            "successes": sum(r["successes"] for r in table), "wall_s": wall,
            "host": platform.node(), "cpus": os.cpu_count(),
            "load_avg_before": load_before, "load_avg_after": os.getloadavg(),
            "time": time.time(),
            "note": "reward 1.0 = MiniWoB++'s raw reward; 'solved' = 1.0 on every seed; "
                    "the oracle reads only observations (goal, accessibility tree, boxes)"}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"meta": meta, "rows": table}, indent=1))
    print(f"solved on every seed: {len(solved)}/{len(table)}; on some seeds: {len(partly)} "
          f"({', '.join(partly) or '-'}); {wall:.0f} s; wrote {RESULTS}")


if __name__ == "__main__":
    main()
