"""Web agent benchmark: reactive vs world-model planning at matched budgets on MiniWoB++.

    .venv/bin/python benchmarks/web_agent.py --suite miniwob-dev --seeds 3 \
        --budgets 1500,4000 --strategies reactive,webdreamer,mcts,compute-optimal \
        --db benchmarks/results/web_agent.db --label dev

Every arm runs the same tasks x seeds through the agent graph with the real browser and the
served model, under the same budget per episode in total tokens (uncached prompt +
completion, all roles: proposer, world model, verifier). Arms: `reactive` (one greedy
proposal, act), `majority` (n proposals, act on the most proposed: the extra samples
without the world model), `webdreamer` (imagine each proposal with the world model, score the
imagined outcome, act on the best: WebDreamer), `mcts` (MCTS over imagined pages), `beam`
(beam search over them), `compute-optimal` (the per-step controller with `--policy`);
`webdreamer-peek` and `mcts-peek`: the same searches with a world model that is never wrong
(the real next page from a twin page, 0 tokens: agent.web.peek_world_model), the ceiling of
any better world model with this proposer and verifier (a diagnostic, not a planner);
`judge-actions`: WebDreamer's selection with no world model (the verifier judges each
proposed action alone: what the predictions add to the judge); `oracle-select`: the same
selection by the task's oracle (agent.web.oracle_judge: the oracle's next action when the
proposer offered it, else the majority), the ceiling of any judge with this proposer;
`judge-expand`, `webdreamer-expand`, `oracle-expand`: the same three selections over the
proposals plus up to EXPAND of the page's one-gesture actions (clicks and checks the
proposer did not sample: agent.web.expansion), so the judge may pick what the proposer
never offered; `choice-expand` and `webdreamer-choice`: over the same candidates, the choice
judge (one question over all of them, read as a distribution over their letters) shown the
actions alone or each with the world model's predicted change; `choice`: the choice judge over
the proposals alone (what the expansion adds); `choice2-expand`: averaged over two orders of
the candidates (its preference for a letter cancelled); `choicet-expand`: each action shown
with its element's page line; `ranked-expand`: the choice judge's scores rescored by the
fitted action ranker with the page's facts and the votes (worldmodel.web.action_ranker,
benchmarks/action_ranker_fit.py); `ranker-expand`: that ranker's facts and votes alone, no
judge call (what the judge adds to it).
Per (arm, budget): success with its bootstrap 90% interval; each planning arm against
`majority` at the same budget (paired, when that arm ran); and against reactive at the
same budget the paired difference and the relative lift (success / reactive's - 1), both
with paired bootstrap 90% intervals over (task, seed); total tokens, completion tokens and
wall time per episode and per step (a step's own latency, with `--parallel` episodes
sharing the CPU) and the run's wall time per step (its throughput); the routes taken; the
cached fraction of prompt tokens; the world model's accuracy on executed actions that were
imagined; how often the executed action overrode the proposals' majority (web_summary).
Prints a table and writes JSON (--out) with the host's load average at the start and end
of the invocation, and per row around the arm's run when it ran in this invocation.

Before an arm runs, the server's prefix cache is emptied (serving.reset_prefix_cache; the
log says when the server does not allow it): the pages are seeded, so an arm run after
another would find its pages cached and be charged less. Prompt tokens per episode
(cached or not) are reported beside the total, as a cost that no cache changes.
Reactive (one greedy proposal a step) is run once, at the largest budget, and that run
stands for the smaller budgets when none of its episodes spent more than half of them (the
row says `run_of_budget`); otherwise it is run at each budget. The JSON is rewritten after
every arm.

Resumable: each (arm, budget) is one run named for it in the trace database (--db); a
completed run is read back, not run again; an interrupted one is resumed (finished
episodes kept, interrupted ones continued from their checkpoint, stored calls answered
from the trace).
Not handled: several models in one invocation (run it once per model), screenshots.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from sqlmodel import Session, select

from worldplan.agent.runs.web_agent import run_web_agent
from worldplan.agent.runs.web_resume import checkpoint_path, plan_resume
from worldplan.agent.runs.web_summary import EpisodeRow, RunSummary, run_summary
from worldplan.agent.web.config import WebAgentConfig, connect_clients, ranker_path
from worldplan.envs.web.tasks.registry import suite_tasks
from worldplan.traces.engine import make_engine
from worldplan.traces.intervals import difference_ci, mean_ci, statistic_ci
from worldplan.traces.schema import Run
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.connect import served_name
from worldplan.worldmodel.llm.serving import reset_prefix_cache

RESULTS = Path(__file__).resolve().parent / "results"
CONFIDENCE = 0.90
EXPAND = 8  # one-gesture actions the -expand arms add to the proposals
ARMS: dict[str, dict[str, Any]] = {
    "reactive": {"strategy": "reactive"},
    "majority": {"strategy": "majority"},
    "webdreamer": {"strategy": "best-of-n"},
    "mcts": {"strategy": "search", "search": "mcts"},
    "beam": {"strategy": "search"},
    "compute-optimal": {"strategy": "compute-optimal"},
    # the same searches with a world model that is never wrong (the real next page, read
    # from a twin page: agent.web.peek_world_model): the ceiling of a better world model
    "webdreamer-peek": {"strategy": "best-of-n", "world_model": "peek"},
    "mcts-peek": {"strategy": "search", "search": "mcts", "world_model": "peek"},
    # WebDreamer's selection with no world model: the verifier judges each proposed action
    "judge-actions": {"strategy": "best-of-n", "world_model": "none"},
    # the same selection by the task's oracle (agent.web.oracle_judge): the ceiling of any
    # judge choosing among the proposer's candidates
    "oracle-select": {"strategy": "best-of-n", "world_model": "none", "judge": "oracle"},
    # the proposals plus up to EXPAND of the page's one-gesture actions (agent.web.expansion)
    # as roots: judged alone, imagined by the world model and judged, or picked by the oracle
    "judge-expand": {"strategy": "best-of-n", "world_model": "none", "expand": EXPAND},
    "webdreamer-expand": {"strategy": "best-of-n", "expand": EXPAND},
    "oracle-expand": {"strategy": "best-of-n", "world_model": "none", "judge": "oracle",
                      "expand": EXPAND},
    # the choice judge (worldmodel.web.choice_judge): one question over all the candidates,
    # shown alone or each with the world model's predicted change
    "choice-expand": {"strategy": "best-of-n", "world_model": "none", "judge": "choice",
                      "expand": EXPAND},
    "webdreamer-choice": {"strategy": "best-of-n", "judge": "choice", "expand": EXPAND},
    # the choice judge over the proposals alone (what the expansion adds), and averaged over
    # two orders of the candidates (as given and reversed: its position bias removed)
    "choice": {"strategy": "best-of-n", "world_model": "none", "judge": "choice"},
    "choice2-expand": {"strategy": "best-of-n", "world_model": "none", "judge": "choice",
                       "expand": EXPAND, "judge_orders": 2},
    # the choice judge shown each action with its element's page line
    "choicet-expand": {"strategy": "best-of-n", "world_model": "none", "judge": "choice",
                       "expand": EXPAND, "judge_targets": True},
    # the choice judge's scores rescored by the fitted action ranker with the page's facts and
    # the votes (benchmarks/action_ranker_fit.py), and that ranker's facts alone (no judge)
    "ranked-expand": {"strategy": "best-of-n", "world_model": "none", "judge": "choice",
                      "expand": EXPAND, "judge_ranker": "agent/policies/web_ranker.json"},
    "ranker-expand": {"strategy": "best-of-n", "world_model": "none", "judge": "ranker",
                      "expand": EXPAND,
                      "judge_ranker": "agent/policies/web_ranker_features.json"},
    # the facts-only ranker refitted with what the world model imagines of each candidate
    # (benchmarks/imagined_ranker.py): the local-first world model (local effects computed,
    # the LLM asked for the rest), and the perfect one (the real next page: a ceiling)
    "dream-ranker-expand": {"strategy": "best-of-n", "world_model": "local", "judge": "ranker",
                            "expand": EXPAND,
                            "judge_ranker": "agent/policies/web_ranker_dream-local.json"},
    "dream-ranker-peek": {"strategy": "best-of-n", "world_model": "peek", "judge": "ranker",
                          "expand": EXPAND,
                          "judge_ranker": "agent/policies/web_ranker_dream-peek.json"},
}
NO_VERIFIER = ("reactive", "majority")
# settings added after runs were stored: hashed only when set away from these defaults, so
# the stored runs keep their names (and are read back, not run again)
LATER = {"world_model": "llm", "world_model_examples": "", "judge": "llm", "expand": 0,
         "judge_orders": 1, "judge_targets": False, "judge_ranker": ""}


def arm_config(arm: str, budget: int, args: argparse.Namespace) -> WebAgentConfig:
    if arm not in ARMS:
        raise SystemExit(f"unknown arm {arm!r}: choose from {', '.join(ARMS)}")
    judged = arm not in NO_VERIFIER  # arms that never ask the verifier keep its defaults,
    # so that runs with another verifier reuse their runs (the same settings, the same run)
    # reactive proposes once whatever n is: it keeps the default n, so its runs are shared
    n = WebAgentConfig.n if arm == "reactive" else args.n
    return WebAgentConfig(**ARMS[arm], budget_tokens=budget, max_steps=args.max_steps,
                          n=n, depth=args.depth, simulations=args.simulations,
                          policy=args.policy if arm == "compute-optimal" else "",
                          verifier_mode=args.verifier_mode if judged else "p_yes",
                          verifier_votes=args.votes if judged else 1)


def settings_key(config: WebAgentConfig, tasks: list[str], seeds: list[int]) -> str:
    """A short hash of everything that makes a run: a changed setting is a new run, never
    a stale one read back or resumed with mixed settings."""
    settings = {k: v for k, v in asdict(config).items() if k not in LATER or v != LATER[k]}
    if config.judge_ranker:  # a refitted ranker in the same file is a new run
        data = ranker_path(config.judge_ranker).read_bytes()
        settings["judge_ranker_sha256"] = hashlib.sha256(data).hexdigest()
    if config.world_model == "local":  # session 12: roots computed by the local-first
        # model cost no call (agent.web.plans), and a ranker alone ranks the roots the world
        # model did not imagine instead of acting on the majority (agent.web.choice_search)
        settings["roots"] = "free-local+unimagined-ranked"
    blob = json.dumps({"config": settings, "tasks": tasks, "seeds": seeds}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def run_arm(store: TraceStore, db: str, name: str, tasks: list[str], seeds: list[int],
            config: WebAgentConfig, clients: Any, suite: str, parallel: int) -> tuple[int, bool]:
    """The run id of `name` in the database, and whether it ran now: read back if
    completed, resumed if not."""
    with Session(store.engine) as s:
        runs = list(s.exec(select(Run).where(Run.name == name).order_by(Run.id)))  # type: ignore
    done = [r for r in runs if r.status == "completed"]
    if done:
        return int(done[-1].id or 0), False
    resume = None
    if runs:
        resume = (int(runs[-1].id or 0), plan_resume(store, int(runs[-1].id or 0)))
    # every arm starts from a cold prefix cache: pages are seeded, so an arm run after
    # another would otherwise find this run's pages cached and be charged less for them
    cold = [reset_prefix_cache(u) for c in clients.distinct() for u in c.urls]
    print(f"{name}: prefix cache {'reset' if cold and all(cold) else 'NOT reset'}",
          flush=True)
    res = asyncio.run(run_web_agent(store, tasks=tasks, seeds=seeds, clients=clients,
                                    config=config, suite=suite, parallel=parallel, name=name,
                                    checkpoint_db=checkpoint_path(db), resume=resume))
    return res.run_id, True


def paired(rows: list[EpisodeRow], base: list[EpisodeRow]) -> tuple[np.ndarray, np.ndarray]:
    b = {(r.task, r.seed): float(r.success) for r in base}
    keys = [(r.task, r.seed) for r in rows if (r.task, r.seed) in b]
    mine = {(r.task, r.seed): float(r.success) for r in rows}
    return np.array([mine[k] for k in keys]), np.array([b[k] for k in keys])


def _lift(pairs: np.ndarray) -> float:
    base = pairs[:, 1].mean()
    return float(pairs[:, 0].mean() / base - 1) if base > 0 else float("nan")


def versus_majority(rows: list[dict[str, Any]],
                    episodes: dict[tuple[str, int], list[EpisodeRow]]) -> None:
    """Each planning arm's paired difference against `majority` at the same budget (the
    same n proposals acted on without the world model), added to its row in place;
    `episodes`: each (arm, budget)'s episodes."""
    for r in rows:
        base = episodes.get(("majority", r["budget"]))
        if base is None or r["arm"] in ("majority", "reactive"):
            continue
        a, m = paired(episodes[r["arm"], r["budget"]], base)
        r["vs_majority"] = {"pairs": int(a.size), "difference": difference_ci(
            a, m, confidence=CONFIDENCE).to_dict()}


def summarize(s: RunSummary, run_id: int, arm: str, budget: int,
              base: list[EpisodeRow] | None) -> tuple[dict[str, Any], list[EpisodeRow]]:
    """The arm's row of the table from its run's summary, and its episodes (reactive's
    pair with the others)."""
    eps = s.episodes
    success = mean_ci([float(e.success) for e in eps], confidence=CONFIDENCE)
    row: dict[str, Any] = {
        "arm": arm, "budget": budget, "run_id": run_id, "episodes": len(eps),
        "failed": sum(e.status != "completed" for e in eps), "success": success.to_dict(),
        "prompt_tokens_per_episode":
            float(np.mean([e.prompt_tokens for e in eps])) if eps else None,
        "total_tokens_per_episode": float(np.mean([e.total_tokens for e in eps])) if eps else None,
        "completion_tokens_per_episode":
            float(np.mean([e.completion_tokens for e in eps])) if eps else None,
        "steps_per_episode": float(np.mean([e.steps for e in eps])) if eps else None,
        "wall_s_per_step": s.wall_s_per_step, "run_s_per_step": s.run_s_per_step,
        "routes": s.routes,
        "cached_fraction": s.cached_fraction, "world_model": s.world_model,
        "majority_overrides": s.overrides,
        "episodes_detail": [asdict(e) for e in eps]}
    if base is not None and arm != "reactive":
        a, b = paired(eps, base)
        row["vs_reactive"] = {
            "pairs": int(a.size),
            "difference": difference_ci(a, b, confidence=CONFIDENCE).to_dict(),
            "relative_lift": statistic_ci(np.column_stack([a, b]), _lift,
                                          confidence=CONFIDENCE).to_dict()}
    return row, eps


def _ci(d: dict[str, Any] | None) -> str:
    if not d or d.get("point") is None or d["point"] != d["point"]:
        return "-"
    return f"{d['point']:+.2f} [{d['low']:+.2f},{d['high']:+.2f}]"


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'arm':<16}{'budget':>7}{'eps':>5}{'success [90%]':>20}{'vs reactive':>22}"
            f"{'lift':>22}{'tok/ep':>8}{'s/step':>7}{'run s':>6}{'cached':>7}"
            f"{'WM P/R/exact (n)':>24}"
            "  routes")
    lines = [head, "-" * len(head)]
    for r in rows:
        s, wm, vs = r["success"], r["world_model"], r.get("vs_reactive", {})
        succ = f"{s['point']:.2f} [{s['low']:.2f},{s['high']:.2f}]"
        wmt = ("-" if not wm.get("n") else
               f"{wm['precision']:.2f}/{wm['recall']:.2f}/{wm['exact']:.2f} ({wm['n']})")
        cached = "-" if r["cached_fraction"] is None else f"{r['cached_fraction']:.2f}"
        wall = "-" if r["wall_s_per_step"] is None else f"{r['wall_s_per_step']:.1f}"
        run_s = "-" if r.get("run_s_per_step") is None else f"{r['run_s_per_step']:.1f}"
        lines.append(f"{r['arm']:<16}{r['budget']:>7}{r['episodes']:>5}{succ:>20}"
                     f"{_ci(vs.get('difference')):>22}{_ci(vs.get('relative_lift')):>22}"
                     f"{r['total_tokens_per_episode'] or 0:>8.0f}{wall:>7}{run_s:>6}{cached:>7}"
                     f"{wmt:>24}  {r['routes']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--llm-url", action="append", default=[], help="Model server (repeat).")
    ap.add_argument("--suite", default="miniwob-dev")
    ap.add_argument("--task", action="append", default=[], help="Tasks instead of the suite.")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed-start", type=int, default=0,
                    help="first seed (more episodes of the same tasks: pool the files with "
                         "benchmarks/web_agent_pool.py)")
    ap.add_argument("--budgets", default="1500,4000",
                    help="Total tokens per episode (uncached prompt + completion), comma list.")
    ap.add_argument("--max-steps", type=int, default=6)
    ap.add_argument("--strategies", default="reactive,webdreamer,mcts,compute-optimal")
    ap.add_argument("--n", type=int, default=3, help="Proposals per step.")
    ap.add_argument("--depth", type=int, default=3, help="Imagined depth (mcts, beam).")
    ap.add_argument("--simulations", type=int, default=4, help="MCTS simulations a step.")
    ap.add_argument("--policy", default="", help="compute-optimal: web policy file.")
    ap.add_argument("--verifier-mode", default="p_yes", choices=("p_yes", "label"))
    ap.add_argument("--votes", type=int, default=1, help="label mode: verdicts averaged.")
    ap.add_argument("--parallel", type=int, default=2, help="Episodes at once.")
    ap.add_argument("--db", default=str(RESULTS / "web_agent.db"))
    ap.add_argument("--label", default="dev")
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    tasks = args.task or suite_tasks(args.suite)
    suite = "" if args.task else args.suite
    seeds = list(range(args.seed_start, args.seed_start + args.seeds))
    db = args.db if "://" in args.db else f"sqlite:///{Path(args.db).resolve()}"
    store = TraceStore(make_engine(db))
    clients = connect_clients(args.llm_url or None)
    load_start = os.getloadavg()
    rows: list[dict[str, Any]] = []
    arms = args.strategies.split(",")
    if arms[0] != "reactive":
        raise SystemExit("--strategies must start with reactive: the others pair with it")
    budgets = [int(b) for b in args.budgets.split(",")]
    path = Path(args.out or RESULTS / f"web_agent-{args.label}.json")
    head = {"benchmark": "web_agent",
            "model": clients.proposer.model or served_name(clients.proposer.urls[0]),
            "urls": clients.proposer.urls, "suite": suite, "tasks": tasks, "seeds": seeds,
            "budget_unit": "total tokens per episode (uncached prompt + completion)",
            "max_steps": args.max_steps, "n": args.n, "depth": args.depth,
            "simulations": args.simulations, "policy": args.policy,
            "verifier": {"mode": args.verifier_mode, "votes": args.votes},
            "confidence": CONFIDENCE, "db": db}
    runs: dict[tuple[str, int], int] = {}
    loads: dict[int, dict[str, Any]] = {}  # run id -> load average around it, if run here
    summaries: dict[int, RunSummary] = {}  # run id -> its summary, read once
    episodes: dict[tuple[str, int], list[EpisodeRow]] = {}  # (arm, budget) -> episodes

    def summary_of(run_id: int) -> RunSummary:
        if run_id not in summaries:
            summaries[run_id] = run_summary(store, run_id)
        return summaries[run_id]

    def arm_run(arm: str, budget: int) -> int:
        config = arm_config(arm, budget, args)
        name = f"bench {args.label} {arm} b{budget} {settings_key(config, tasks, seeds)}"
        if (arm, budget) not in runs:
            before = os.getloadavg()
            run_id, ran = run_arm(store, db, name, tasks, seeds, config, clients, suite,
                                  args.parallel)
            if ran:
                loads[run_id] = {"start": before, "end": os.getloadavg()}
            runs[arm, budget] = run_id
        return runs[arm, budget]

    for budget in budgets:
        base: list[EpisodeRow] | None = None
        for arm in arms:
            t0 = time.time()
            shared = None
            if arm == "reactive" and budget < max(budgets):
                # reactive (one greedy proposal a step) is deterministic and spends far less
                # than any budget here: its run at the largest budget is its run at this one
                # when no episode came within half of this budget (so no call was refused)
                big = arm_run(arm, max(budgets))
                if max(e.total_tokens for e in summary_of(big).episodes) <= budget / 2:
                    shared = max(budgets)
            run_id = arm_run(arm, shared or budget)
            row, eps = summarize(summary_of(run_id), run_id, arm, budget, base)
            episodes[arm, budget] = eps
            if shared:
                row["run_of_budget"] = shared
            if arm == "reactive":
                base = eps
            row["wall_s"] = time.time() - t0
            # the host's load while this arm ran (absent when it was read back: see the run's
            # earlier JSON or its log)
            if run_id in loads:
                row["load_average"] = loads[run_id]
            rows.append(row)
            print(f"{arm} b{budget}: {row['success']['point']:.2f} success "
                  f"({row['wall_s']:.0f} s)", flush=True)
            _write(path, {**head, "load_average": {"start": load_start,
                                                   "end": os.getloadavg()}, "rows": rows})
    versus_majority(rows, episodes)
    for r in rows:
        if "vs_majority" in r:
            print(f"{r['arm']} b{r['budget']} vs majority: "
                  f"{_ci(r['vs_majority']['difference'])} ({r['vs_majority']['pairs']} pairs)")
    out = {**head, "load_average": {"start": load_start, "end": os.getloadavg()},
           "rows": rows}
    print(table(rows))
    _write(path, out)
    print(f"wrote {path}")
    return out


def _write(path: Path, out: dict[str, Any]) -> None:
    """The JSON so far (written after every arm, so a long run shows its progress)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
