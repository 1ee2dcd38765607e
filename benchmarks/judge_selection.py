"""Who picks the oracle's action among the proposer's own candidates: the vote or the judge?

benchmarks/judge_accuracy.py pits the oracle's first action against a RANDOM one; the
agent's candidates are harder negatives: the proposer's own plausible actions. Here, on the
pages of recorded oracle episodes (benchmarks/web_transitions.py; `--per-task` seeds a
task, pages are seeded; `--steps first`: each episode's first page, `all`: every page, with
the oracle's earlier actions as the history), the agent's proposer
(`agent.web.proposer.Proposer`, constrained, a greedy reply plus sampled ones, `--n` in all,
seeded by the episode's seed) proposes candidates as it does in an episode, `--expand K`
adds up to K of the page's one-gesture actions it did not propose (agent.web.expansion),
and selections pick one:
- `greedy`: the greedy reply's action (what reactive does);
- `majority`: the most proposed action, the best ranked on ties (agent.web.domain's
  `majority_action`: what majority and compute-optimal's act route do);
- `judge`: `--judge p_yes` or `next`: the highest P(yes) of the progress verifier shown each
  action alone (`ProgressVerifier`, as `judge-actions` does); `choice`: the highest
  probability of the choice judge shown all of them at once (worldmodel.web.choice_judge),
  averaged over `--orders` orders of the candidates; the best ranked on ties;
- `first` (choice with `--orders` > 1): the choice judge's first answered order alone (the
  candidates as given: what `--orders 1` picks), paired with `judge` on the same candidates;
- `any`: the oracle's action is among the candidates (the ceiling of any selection);
  `proposed`: among the proposals alone.
Each is scored 1 when its pick is the oracle's action (canonical action strings): the mean
with a bootstrap 90% interval over pages, and judge - majority (and judge - greedy, judge -
first) paired. The oracle's action is one right action: where several are right (ticking
boxes in any order), every selection is marked down alike.

    .venv/bin/python benchmarks/judge_selection.py [--llm-url URL] [--n 3] [--per-task 5] \
        [--steps all] [--expand 8] [--judge choice] [--orders 2]

Writes benchmarks/results/judge_selection-<label>.json (model, n, slice, load, tokens, the
table and every page's candidates and picks).
Not handled: the agent's own later states (the oracle's are shown), judging with a
predicted or real change (benchmarks/judge_accuracy.py and the web_agent peek arms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from worldplan.agent.runs.web_transitions import Transition, read_transitions
from worldplan.agent.web.config import WebAgentConfig
from worldplan.agent.web.domain import majority_action
from worldplan.agent.web.expansion import expanded
from worldplan.agent.web.proposer import Proposer
from worldplan.envs.web.actions import canonical_action
from worldplan.envs.web.observation import WebObservation
from worldplan.traces.intervals import difference_ci, mean_ci
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.connect import connect
from worldplan.worldmodel.web.choice_judge import choose
from worldplan.worldmodel.web.prompts import CHOICE_LETTERS
from worldplan.worldmodel.web.world_model import ProgressVerifier

HERE = Path(__file__).resolve().parent
DATA = HERE / "web_transitions" / "miniwob-dev.jsonl"
RESULTS = HERE / "results"
CONFIDENCE = 0.90
PICKS = ("greedy", "majority", "judge", "any", "proposed")
JUDGES = ("p_yes", "next", "choice")  # ProgressVerifier's yes/no modes, or choose()
AGENT = WebAgentConfig()  # the agent's proposer settings (tokens, temperature)


def oracle_pages(transitions: Sequence[Transition], per_task: int, every_step: bool
                 ) -> list[tuple[Transition, list[str]]]:
    """The pages of up to `per_task` oracle episodes a task (lowest seeds): the first page
    of each, or with `every_step` every page, each with the oracle's actions before it."""
    oracle = sorted((t for t in transitions if t.source == "oracle"),
                    key=lambda t: (t.task, t.seed, t.step))
    seeds: dict[str, list[int]] = {}
    for t in oracle:
        got = seeds.setdefault(t.task, [])
        if t.seed not in got and len(got) < per_task:
            got.append(t.seed)
    out: list[tuple[Transition, list[str]]] = []
    history: dict[tuple[str, int], list[str]] = {}
    for t in oracle:
        if t.seed not in seeds[t.task]:
            continue
        done = history.setdefault((t.task, t.seed), [])
        if t.step == 0 or every_step:
            out.append((t, list(done)))
        done.append(canonical_action(t.action))
    return out


async def pick(t: Transition, history: Sequence[str], proposer: Proposer,
               judge: ProgressVerifier | None, client: LLMClient, n: int, expand: int,
               budget: Budget, orders: int = 1, targets: bool = False) -> dict[str, Any]:
    """One page: the proposals, plus up to `expand` one-gesture actions
    (agent.web.expansion), and each selection's pick; `judge` None: the choice judge
    (over `orders` orders of the candidates; with more than one, `first` is the first's)."""
    obs = WebObservation(goal=t.goal, url=t.url, axtree=t.before,
                         last_action=history[-1] if history else "").to_prompt()
    props = [p for p in await proposer.propose(obs, history, n, budget=budget) if p.action]
    proposed = [str(p.action) for p in props]
    actions = proposed + expanded(obs, proposed, limit=expand)
    oracle = canonical_action(t.action)
    row: dict[str, Any] = {"task": t.task, "seed": t.seed, "step": t.step, "oracle": oracle,
                           "candidates": [(p.action, p.count) for p in props],
                           "added": actions[len(proposed):]}
    firsts = ("first",) if judge is None and orders > 1 else ()
    if not actions:
        return {**row, **{k: None for k in ("greedy", "majority", "judge", *firsts)},
                "scores": [], **{f"{k}_right": 0.0 for k in (*PICKS, *firsts)}}
    extra: dict[str, str] = {}
    if judge is None:
        shown = actions[: len(CHOICE_LETTERS)]
        c = await choose(client, t.goal, obs, [(a, "") for a in shown], history=history,
                         budget=budget, orders=orders, targets=targets)
        pad = [0.0] * (len(actions) - len(shown))
        scores = c.scores + pad
        if orders > 1:
            first = list(c.per_order[0]) + pad
            extra["first"] = _best(actions, first)
    else:
        judged = await asyncio.gather(*[judge.score(t.goal, obs, [[(a, "")]], budget=budget,
                                                    history=history) for a in actions])
        scores = [j.score for j in judged]
    best = _best(actions, scores)
    # the greedy reply itself (None: it was unreadable; the `greedy` pick then falls back)
    own = next((str(p.action) for p in props if p.greedy), None)
    picks = {"greedy": own if own is not None else best,
             "majority": majority_action([{"answer": p.action, "info": {"count": p.count}}
                                          for p in props]) or best,
             "judge": best, **extra}
    right = {f"{k}_right": float(v == oracle) for k, v in picks.items()}
    right["any_right"] = float(oracle in actions)
    right["proposed_right"] = float(oracle in proposed)
    return {**row, **picks, "greedy_proposal": own, "scores": scores, **right}


def _best(actions: Sequence[str], scores: Sequence[float]) -> str:
    """The highest scored action, the best ranked (first) on ties."""
    return actions[max(range(len(actions)), key=lambda i: (scores[i], -i))]


def table(rows: Sequence[dict[str, Any]], seed: int) -> dict[str, Any]:
    out: dict[str, Any] = {"pages": len(rows), "tasks": len({r["task"] for r in rows}),
                           "with_choice": sum(len(r["candidates"]) + len(r["added"]) > 1
                                              for r in rows)}
    for k in PICKS:
        out[k] = mean_ci([r[f"{k}_right"] for r in rows], seed=seed,
                         confidence=CONFIDENCE).to_dict()
    out["judge_minus_majority"] = difference_ci(
        [r["judge_right"] for r in rows], [r["majority_right"] for r in rows], seed=seed,
        confidence=CONFIDENCE).to_dict()
    out["judge_minus_greedy"] = difference_ci(
        [r["judge_right"] for r in rows], [r["greedy_right"] for r in rows], seed=seed,
        confidence=CONFIDENCE).to_dict()
    if rows and all("first_right" in r for r in rows):  # the choice judge over several orders
        out["first"] = mean_ci([r["first_right"] for r in rows], seed=seed,
                               confidence=CONFIDENCE).to_dict()
        out["judge_minus_first"] = difference_ci(
            [r["judge_right"] for r in rows], [r["first_right"] for r in rows], seed=seed,
            confidence=CONFIDENCE).to_dict()
    return out


async def run(client: LLMClient, args: argparse.Namespace) -> dict[str, Any]:
    pages = oracle_pages(read_transitions(args.data).transitions, args.per_task,
                         args.steps == "all")
    if not pages:
        raise SystemExit(f"no oracle episodes in {args.data}")
    model = await client.served_model()
    tags = {"benchmark": "judge_selection"}
    judge = None if args.judge == "choice" else ProgressVerifier(client, args.judge, tags=tags)
    spent, gate = Budget(), asyncio.Semaphore(max(1, args.concurrency))
    load_before, t0 = os.getloadavg(), time.time()

    async def one(t: Transition, history: list[str]) -> dict[str, Any]:
        async with gate:
            proposer = Proposer(client, AGENT.proposer_tokens, AGENT.temperature, t.seed)
            return await pick(t, history, proposer, judge, client, args.n, args.expand, spent,
                              args.orders, args.targets)

    rows = list(await asyncio.gather(*[one(t, h) for t, h in pages]))
    summary = table(rows, args.seed)
    label = args.label or re.sub(r"[^A-Za-z0-9._-]+", "-", f"{model}-n{args.n}" + (
        "" if args.steps == "first" else "-all") + (f"-x{args.expand}" if args.expand else "")
        + ("" if args.judge == "p_yes" else f"-{args.judge}")
        + (f"-o{args.orders}" if args.orders > 1 else "") + ("-t" if args.targets else "")
        + (f"-p{args.per_task}" if args.per_task != 3 else ""))
    result = {"meta": {"model": model, "n": args.n, "per_task": args.per_task,
                       "steps": args.steps, "expand": args.expand, "judge": args.judge,
                       "orders": args.orders, "targets": args.targets,
                       "data": str(args.data), "seed": args.seed,
                       "confidence": CONFIDENCE,
                       "load_avg_before": load_before, "load_avg_after": os.getloadavg(),
                       "wall_s": time.time() - t0,
                       "tokens": spent.token_counts(),
                       "note": "1 when the pick is the oracle's action; bootstrap over pages"},
              "summary": summary, "pages": rows}
    print(f"{model}: {summary['pages']} {args.steps} pages of {summary['tasks']} tasks, "
          f"n={args.n} proposals + up to {args.expand} one-gesture actions, {args.judge} "
          f"judge ({summary['with_choice']} pages with a choice); picks that are the "
          f"oracle's action, {int(CONFIDENCE * 100)}% bootstrap intervals over pages")
    for k in (*PICKS, "judge_minus_majority", "judge_minus_greedy", "first",
              "judge_minus_first"):
        if k not in summary:
            continue
        d = summary[k]
        print(f"  {k:22s} {d['point']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]")
    out = args.out or RESULTS / f"judge_selection-{label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llm-url", nargs="+", default=["http://127.0.0.1:8321"])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--n", type=int, default=3, help="proposals a page (the agent's n)")
    ap.add_argument("--per-task", type=int, default=3,
                    help="oracle episodes a task (other than 3: '-pN' in the file's name)")
    ap.add_argument("--steps", choices=("first", "all"), default="first",
                    help="each episode's first page, or every page (with the oracle's "
                         "earlier actions as the history)")
    ap.add_argument("--expand", type=int, default=0,
                    help="one-gesture actions added to the proposals (agent.web.expansion)")
    ap.add_argument("--judge", choices=JUDGES, default="p_yes",
                    help="yes/no on progress (p_yes), yes/no on being the right next action "
                         "(next), or one choice among all candidates (choice)")
    ap.add_argument("--orders", type=int, default=1,
                    help="choice judge: orders of the candidates averaged (position bias)")
    ap.add_argument("--targets", action="store_true",
                    help="choice judge: each action shown with its element's page line")
    ap.add_argument("--seed", type=int, default=0, help="of the bootstrap")
    ap.add_argument("--concurrency", type=int, default=4, help="pages in flight")
    ap.add_argument("--label", default="")
    ap.add_argument("--out", type=Path, default=None)
    return ap.parse_args(argv)


async def _main(args: argparse.Namespace) -> None:
    if args.orders < 1 or (args.orders > 1 and args.judge != "choice"):
        raise SystemExit("--orders takes 1 or more, and more than 1 only with --judge choice")
    if args.targets and args.judge != "choice":
        raise SystemExit("--targets needs --judge choice")
    async with connect(args.llm_url, max_concurrency=2 * args.concurrency) as client:
        await run(client, args)


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(_main(parse_args(argv)))


if __name__ == "__main__":
    main()
