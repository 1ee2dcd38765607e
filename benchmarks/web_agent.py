"""Web agent benchmark: reactive vs compute-optimal at matched token budgets on MiniWoB++.

    .venv/bin/python benchmarks/web_agent.py --llm-url http://127.0.0.1:8000 \
        --suite miniwob-dev --seeds 5 --budget 400

Every strategy runs the same tasks x seeds with the same budget of generated tokens per
episode (all roles: proposer, world model, verifier), through the agent graph with the real
browser and the served model. Read back from the trace database, per strategy: success
rate, mean reward, generated (completion) tokens per episode, prompt tokens per episode,
wall time per real step (seconds), the routes taken, and the world model's prediction
accuracy on executed actions that were imagined (word-overlap F1 with the real page change,
and agreement on whether the page changes at all; see worldmodel.web.world_model). Prints a
table and writes benchmarks/results/web_agent.json (or --out).

Not handled: several models in one invocation (run it once per model), screenshots.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from worldplan.agent.runs.web_agent import run_web_agent
from worldplan.agent.web.config import WebAgentConfig, connect_clients
from worldplan.envs.web.tasks.registry import suite_tasks
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import Episode, Step
from worldplan.traces.store import TraceStore

RESULTS = Path(__file__).resolve().parent / "results"


def _mean(xs: list[float]) -> float | None:
    return statistics.fmean(xs) if xs else None


def summarize_run(store: TraceStore, run_id: int, strategy: str) -> dict[str, Any]:
    with Session(store.engine) as s:
        eps = list(s.exec(select(Episode).where(Episode.run_id == run_id)))
        ids = [e.id for e in eps]
        steps = list(s.exec(select(Step).where(Step.episode_id.in_(ids))))  # type: ignore
    wm = [st.info["world_model"] for st in steps if st.info.get("world_model")]
    routes: dict[str, int] = {}
    for st in steps:
        r = str(st.decision.get("route"))
        routes[r] = routes.get(r, 0) + 1
    n = len(eps)
    return {
        "strategy": strategy, "run_id": run_id, "episodes": n,
        "success_rate": sum(bool(e.success) for e in eps) / n if n else 0.0,
        "mean_reward": _mean([e.reward or 0.0 for e in eps]),
        "failed": sum(e.status != "completed" for e in eps),
        "completion_tokens_per_episode": _mean([float(e.completion_tokens) for e in eps]),
        "prompt_tokens_per_episode": _mean([float(e.prompt_tokens) for e in eps]),
        "steps_per_episode": len(steps) / n if n else 0.0,
        "wall_s_per_step": _mean([st.wall_time_s for st in steps]),
        "routes": routes,
        "wm_predictions": len(wm),
        "wm_f1": _mean([float(w["f1"]) for w in wm]),
        "wm_change_agreement": _mean([float(w["change_agrees"]) for w in wm]),
    }


def table(rows: list[dict[str, Any]]) -> str:
    def f(x: Any, spec: str) -> str:
        return "-" if x is None else format(x, spec)
    head = (f"{'strategy':<16}{'eps':>5}{'success':>9}{'reward':>8}{'gen tok/ep':>11}"
            f"{'s/step':>8}{'steps/ep':>9}{'WM n':>6}{'WM F1':>7}{'WM chg':>7}  routes")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['strategy']:<16}{r['episodes']:>5}{f(r['success_rate'], '.2f'):>9}"
            f"{f(r['mean_reward'], '.2f'):>8}{f(r['completion_tokens_per_episode'], '.0f'):>11}"
            f"{f(r['wall_s_per_step'], '.1f'):>8}{f(r['steps_per_episode'], '.1f'):>9}"
            f"{r['wm_predictions']:>6}{f(r['wm_f1'], '.2f'):>7}"
            f"{f(r['wm_change_agreement'], '.2f'):>7}  {r['routes']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--llm-url", action="append", default=[], help="Model server (repeat).")
    ap.add_argument("--world-model-url", action="append", default=[])
    ap.add_argument("--verifier-url", action="append", default=[])
    ap.add_argument("--suite", default="miniwob-dev")
    ap.add_argument("--task", action="append", default=[], help="Tasks instead of the suite.")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=400, help="Generated tokens per episode.")
    ap.add_argument("--max-steps", type=int, default=6)
    ap.add_argument("--strategies", default="reactive,compute-optimal")
    ap.add_argument("--n", type=int, default=3, help="Proposals per step (probe).")
    ap.add_argument("--search", default="beam", help="Tree search of branching steps: beam|mcts.")
    ap.add_argument("--proposer-tokens", type=int, default=24)
    ap.add_argument("--world-model-tokens", type=int, default=40)
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--db", default="", help="Trace DB (default: a fresh file in /tmp).")
    ap.add_argument("--out", default=str(RESULTS / "web_agent.json"))
    args = ap.parse_args(argv)
    tasks = args.task or suite_tasks(args.suite)
    db = args.db or f"sqlite:////tmp/worldplan_bench_web_agent_{int(time.time())}.db"
    store = TraceStore(make_engine(db))
    clients = connect_clients(args.llm_url or None, args.world_model_url or None,
                              args.verifier_url or None)
    rows = []
    for strategy in args.strategies.split(","):
        config = WebAgentConfig(strategy=strategy, budget_tokens=args.budget,
                                max_steps=args.max_steps, n=args.n,
                                proposer_tokens=args.proposer_tokens,
                                world_model_tokens=args.world_model_tokens,
                                search=args.search)
        t0 = time.time()
        res = asyncio.run(run_web_agent(store, tasks=tasks, seeds=list(range(args.seeds)),
                                        clients=clients, config=config,
                                        suite="" if args.task else args.suite,
                                        parallel=args.parallel, name=f"bench {strategy}"))
        row = summarize_run(store, res.run_id, strategy)
        row["wall_s"] = time.time() - t0
        rows.append(row)
        print(f"{strategy}: {row['success_rate']:.2f} success in {row['wall_s']:.0f} s",
              flush=True)
    out = {"benchmark": "web_agent", "model": clients.proposer.model,
           "urls": clients.proposer.urls, "tasks": tasks, "seeds": args.seeds,
           "budget_tokens_per_episode": args.budget, "max_steps": args.max_steps,
           "n": args.n, "search": args.search, "db": db, "rows": rows}
    print(table(rows))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")
    return out


if __name__ == "__main__":
    main()
