"""Judge accuracy with a perfect world model: does the progress verifier prefer the oracle's
action to a random one when it is shown the REAL change each makes?

WebDreamer-style planning needs two things: a world model that predicts each candidate's
outcome, and a judge that ranks the outcomes. This measures the judge alone, on recorded
transitions (benchmarks/web_transitions.py): for every task and seed where the oracle
episode and the random episode start from the same page (pages are seeded) with different
first actions, the verifier (`worldmodel.web.world_model.ProgressVerifier`, as the agent
builds it) scores both, each shown the goal, the page and the action with its real change
(`page_diff.real_change`, written as the world model writes predictions: what a perfect
world model would say). A pair counts 1 when the oracle's action scores higher, 0.5 on a
tie, 0 otherwise: pairwise accuracy (0.5 is chance), with a bootstrap 90% interval over
pairs. Beside it, the same pairs judged from the action alone (no change shown: what the
world model adds), and the pairs whose random action changed the page (the hard ones: an
action that does nothing is easy to reject).

    .venv/bin/python benchmarks/judge_accuracy.py [--llm-url URL] [--verifier-mode label --votes 3]

Writes benchmarks/results/judge_accuracy-<label>.json: model, verifier settings, slice,
load average, tokens, the three accuracies and every pair's scores.
Not handled: later steps (a random episode leaves the oracle's states after its first
action), several candidates at once (pairs only), other judges than the agent's verifier.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from worldplan.agent.runs.web_transitions import Transition, read_transitions
from worldplan.envs.web.observation import WebObservation
from worldplan.traces.intervals import mean_ci
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.connect import connect
from worldplan.worldmodel.web.page_diff import format_change, real_change
from worldplan.worldmodel.web.world_model import ProgressVerifier

HERE = Path(__file__).resolve().parent
DATA = HERE / "web_transitions" / "miniwob-dev.jsonl"
RESULTS = HERE / "results"
CONFIDENCE = 0.90


@dataclass(frozen=True)
class Pair:
    task: str
    seed: int
    oracle: str  # the oracle's first action
    random: str  # the random episode's first action
    random_changed: bool  # the random action changed the page
    scores: dict[str, float]  # "oracle", "random" (real change shown), and "*_action_only"


def pairs_of(transitions: Sequence[Transition]) -> list[tuple[Transition, Transition]]:
    """(oracle, random) first transitions of the same task and seed, from the same page,
    with different actions; in task, seed order."""
    first = {(t.task, t.seed, t.source): t for t in transitions if t.step == 0}
    out = []
    for (task, seed, source), o in sorted(first.items()):
        r = first.get((task, seed, "random"))
        if source == "oracle" and r is not None and r.before == o.before \
                and r.action != o.action:
            out.append((o, r))
    return out


def _win(a: float, b: float) -> float:
    return 1.0 if a > b else 0.5 if a == b else 0.0


async def judge_pairs(verifier: ProgressVerifier, pairs: Sequence[tuple[Transition, Transition]],
                      budget: Budget, concurrency: int) -> list[Pair]:
    gate = asyncio.Semaphore(max(1, concurrency))

    async def score(t: Transition, shown: str) -> float:
        obs = WebObservation(goal=t.goal, url=t.url, axtree=t.before).to_prompt()
        async with gate:
            return (await verifier.score(t.goal, obs, [[(t.action, shown)]],
                                         budget=budget)).score

    async def one(o: Transition, r: Transition) -> Pair:
        change = {t.source: format_change(real_change(t.before, t.after)) for t in (o, r)}
        got = await asyncio.gather(score(o, change["oracle"]), score(r, change["random"]),
                                   score(o, ""), score(r, ""))
        names = ("oracle", "random", "oracle_action_only", "random_action_only")
        return Pair(o.task, o.seed, o.action, r.action, not real_change(r.before, r.after).empty,
                    dict(zip(names, got, strict=True)))

    return list(await asyncio.gather(*[one(o, r) for o, r in pairs]))


def accuracies(rows: Sequence[Pair], seed: int) -> dict[str, Any]:
    def acc(sel: Sequence[Pair], suffix: str) -> dict[str, float]:
        return mean_ci([_win(p.scores["oracle" + suffix], p.scores["random" + suffix])
                        for p in sel], seed=seed, confidence=CONFIDENCE).to_dict()
    hard = [p for p in rows if p.random_changed]
    return {"pairs": len(rows), "tasks": len({p.task for p in rows}),
            "with_real_change": acc(rows, ""), "action_only": acc(rows, "_action_only"),
            "hard_pairs": len(hard), "with_real_change_hard": acc(hard, ""),
            "action_only_hard": acc(hard, "_action_only")}


async def run(client: LLMClient, args: argparse.Namespace) -> dict[str, Any]:
    data = read_transitions(args.data)
    pairs = pairs_of(data.transitions)
    if not pairs:
        raise SystemExit(f"no (oracle, random) pairs from the same page in {args.data}")
    verifier = ProgressVerifier(client, args.verifier_mode, votes=args.votes,
                                tags={"benchmark": "judge_accuracy"})
    model = await client.served_model()
    load_before, t0 = os.getloadavg(), time.time()
    spent = Budget()  # no limit: counts the tokens
    rows = await judge_pairs(verifier, pairs, spent, args.concurrency)
    summary = accuracies(rows, args.seed)
    label = args.label or re.sub(r"[^A-Za-z0-9._-]+", "-", f"{model}-{args.verifier_mode}"
                                 f"{args.votes if args.verifier_mode == 'label' else ''}")
    result = {"meta": {"model": model, "verifier": {"mode": args.verifier_mode,
                                                    "votes": args.votes},
                       "data": str(args.data), "seed": args.seed, "confidence": CONFIDENCE,
                       "load_avg_before": load_before, "load_avg_after": os.getloadavg(),
                       "wall_s": time.time() - t0,
                       "tokens": spent.token_counts(),
                       "note": "pairwise accuracy: 1 oracle scored higher, 0.5 tie, 0 lower; "
                               "0.5 is chance; bootstrap over pairs"},
              "summary": summary, "pairs": [asdict(p) for p in rows]}
    print(f"judge {args.verifier_mode} (votes {args.votes}) of {model}; {summary['pairs']} "
          f"pairs from {summary['tasks']} tasks ({summary['hard_pairs']} whose random action "
          f"changed the page); {int(CONFIDENCE * 100)}% bootstrap intervals over pairs")
    for key in ("with_real_change", "action_only", "with_real_change_hard", "action_only_hard"):
        d = summary[key]
        print(f"  {key:24s} {d['point']:.3f} [{d['low']:.3f}, {d['high']:.3f}]  (n={d['n']})")
    out = args.out or RESULTS / f"judge_accuracy-{label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llm-url", nargs="+", default=["http://127.0.0.1:8321"])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--verifier-mode", default="p_yes", choices=("p_yes", "label"))
    ap.add_argument("--votes", type=int, default=1, help="label mode: verdicts averaged")
    ap.add_argument("--seed", type=int, default=0, help="of the bootstrap")
    ap.add_argument("--concurrency", type=int, default=8, help="judgements in flight")
    ap.add_argument("--label", default="", help="results file label")
    ap.add_argument("--out", type=Path, default=None)
    return ap.parse_args(argv)


async def _main(args: argparse.Namespace) -> None:
    async with connect(args.llm_url, max_concurrency=args.concurrency) as client:
        await run(client, args)


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(_main(parse_args(argv)))


if __name__ == "__main__":
    main()
