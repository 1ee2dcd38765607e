"""Record the web-transition dataset: (page, action, next page) from oracle and random runs.

Plays the development suite's tasks in ONE real browser, one episode at a time (see
agent.runs.web_transitions): oracle episodes on `--oracle-seeds` seeds, random episodes of
`--random-steps` legal actions on `--random-seeds` seeds, and appends every transition to
`--out` (JSON Lines). Resumable: run it again and finished episodes are skipped. At the end
it prints transitions per source and per task, the file's size, and the host's load.

    .venv/bin/python benchmarks/web_transitions.py [--oracle-seeds 5] [--random-seeds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import Counter
from pathlib import Path

from worldplan.agent.runs.web_transitions import (
    Key,
    RecordPlan,
    read_transitions,
    record_transitions,
)
from worldplan.envs.web.tasks.registry import SUITES, suite_tasks

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "web_transitions" / "miniwob-dev.jsonl"


def show(path: Path) -> None:
    data = read_transitions(path)
    ts = data.transitions
    print(f"{path}: {len(ts)} transitions in {len(data.complete)} complete episodes, "
          f"{path.stat().st_size if path.exists() else 0} bytes")
    print("  per source: " + ", ".join(f"{s} {n}" for s, n in
                                       sorted(Counter(t.source for t in ts).items())))
    changed = sum(t.before != t.after for t in ts)
    print(f"  page text changed in {changed}; action errors in {sum(bool(t.error) for t in ts)}")
    per_task = Counter((t.task, t.source) for t in ts)
    for task in sorted({t.task for t in ts}):
        print(f"  {task:28s} oracle {per_task[(task, 'oracle')]:4d}  "
              f"random {per_task[(task, 'random')]:4d}")
    if data.bad_lines or data.incomplete:
        print(f"  NOT whole records at lines {data.bad_lines}; incomplete episodes "
              f"{data.incomplete} (skipped by readers; rerun to record them)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="miniwob-dev", choices=SUITES)
    ap.add_argument("--tasks", nargs="*", default=None, help="a subset of the suite's tasks")
    ap.add_argument("--oracle-seeds", type=int, default=5, help="oracle episodes per task")
    ap.add_argument("--random-seeds", type=int, default=10, help="random episodes per task")
    ap.add_argument("--seed-start", type=int, default=0)
    ap.add_argument("--random-steps", type=int, default=6, help="actions per random episode")
    ap.add_argument("--max-steps", type=int, default=20, help="actions per oracle episode")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--show", action="store_true", help="only print what the file holds")
    args = ap.parse_args()
    if args.show:
        show(args.out)
        return
    tasks = tuple(args.tasks or suite_tasks(args.suite))
    unknown = set(tasks) - set(suite_tasks(args.suite))
    if unknown:
        ap.error(f"not in {args.suite}: {sorted(unknown)}")
    s0 = args.seed_start
    plan = RecordPlan(tasks, tuple(range(s0, s0 + args.oracle_seeds)),
                      tuple(range(s0, s0 + args.random_seeds)), args.random_steps,
                      args.max_steps)
    load, t0 = os.getloadavg(), time.time()
    print(f"recording {len(tasks)} tasks into {args.out} (load average {load[0]:.2f})",
          flush=True)

    def progress(key: Key, n: int, error: str) -> None:
        task, seed, source = key
        print(f"  {task} {source} seed {seed}: {n} transitions"
              + (f" ({error[:120]})" if error else ""), flush=True)

    summary = asyncio.run(record_transitions(args.out, plan, on_episode=progress))
    print(f"recorded {summary.episodes} episodes ({summary.transitions} transitions), skipped "
          f"{summary.skipped} already complete, {len(summary.failed)} failed; "
          f"{time.time() - t0:.0f} s; load average now {os.getloadavg()[0]:.2f}")
    if summary.no_oracle:
        print(f"no oracle (random episodes only): {', '.join(summary.no_oracle)}")
    for key, why in summary.failed:
        print(f"  failed {key}: {why[:200]}")
    if summary.bad_lines:
        print(f"lines of the file that were not whole records (left in place, skipped): "
              f"{summary.bad_lines}")
    show(args.out)


if __name__ == "__main__":
    main()
