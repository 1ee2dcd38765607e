"""World-model accuracy on recorded web transitions: predicted against real page changes.

For any served model: samples `--per-task` transitions per task from the dataset
(benchmarks/web_transitions.py; seeded), asks the world model
(`worldmodel.web.world_model.WorldModel.predict`, one greedy sample) what changes after each
transition's action on its page (the observation `WebObservation(goal, url, page before)`),
reads the answer as the live world model does (`change_reading.read_change`: repeated
lines once, a cut last line dropped, an added line with a ref on the page read as that
element's new state) and applies it to the page before, and scores it against the real
change (`real_change(before, after)`, `score_change`): precision, recall and F1 of change
items, exact match (beside it, the exact-match rate of always answering "nothing changes",
the trivial baseline). An answer that
cannot be read or applied, or a request that failed, scores 0: wrong, not dropped; their
rates are reported. Per task and overall, each figure is the mean over transitions with a
bootstrap 90% interval over transitions (traces.intervals, scipy.stats.bootstrap). Cost:
completion tokens, and prompt tokens (cached or not) beside them. Requests: `--concurrency`
in flight. `--examples FILE`: the world model is shown `--shots` recorded transitions of
OTHER tasks (worldmodel.web.transition_examples; never the transition's own task).
`--local`: the local-first world model (worldmodel.web.local_first: fills, ticks,
selections and clicks on inert elements computed from the page, the LLM asked for the rest;
the counts of each are in the meta). `--against FILE`: paired differences against an
earlier results file on the transitions both scored (same data, `--per-task` and `--seed`
give the same sample), with intervals.

Writes benchmarks/results/world_model_accuracy-<label>.json: model, slice (dataset, per
task, seed, tasks, transitions), host load average, per-task and overall rows, every
prediction with its score.

    .venv/bin/python benchmarks/world_model_accuracy.py [--llm-url URL] [--per-task 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from worldplan.agent.runs.web_transitions import Transition, read_transitions
from worldplan.envs.web.observation import WebObservation
from worldplan.traces.intervals import Interval, difference_ci, mean_ci
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.connect import connect
from worldplan.worldmodel.llm.errors import LLMError
from worldplan.worldmodel.web.change_reading import read_change
from worldplan.worldmodel.web.local_first import LocalFirstWorldModel
from worldplan.worldmodel.web.page_diff import (
    ChangeFormatError,
    ChangeScore,
    PageChange,
    parse_change,
    real_change,
    score_change,
)
from worldplan.worldmodel.web.transition_examples import SHOTS, ExampleBank, read_example_bank
from worldplan.worldmodel.web.world_model import PagePredictor, WorldModel

HERE = Path(__file__).resolve().parent
DATA = HERE / "web_transitions" / "miniwob-dev.jsonl"
RESULTS = HERE / "results"
CONFIDENCE = 0.90
METRICS = ("precision", "recall", "f1", "exact")


@dataclass(frozen=True)
class Scored:
    task: str
    seed: int
    step: int
    source: str
    action: str
    text: str  # the model's answer
    failure: str  # "" | "request" | "parse" | "apply"
    why: str  # the failure's message
    tokens: int  # completion tokens of the answer
    score: ChangeScore


def sample(transitions: Sequence[Transition], per_task: int, seed: int,
           tasks: Sequence[str] = ()) -> list[Transition]:
    """Up to `per_task` transitions of each task (all when fewer), drawn with `seed`."""
    by_task: dict[str, list[Transition]] = defaultdict(list)
    for t in transitions:
        if not tasks or t.task in tasks:
            by_task[t.task].append(t)
    rng = random.Random(seed)
    return [t for task in sorted(by_task)
            for t in rng.sample(by_task[task], min(per_task, len(by_task[task])))]


async def predict_one(model: PagePredictor, t: Transition, gate: asyncio.Semaphore,
                      budget: Budget | None = None) -> Scored:
    obs = WebObservation(goal=t.goal, url=t.url, axtree=t.before).to_prompt()
    real = real_change(t.before, t.after)
    text, tokens, failure, why = "", 0, "", ""
    predicted: PageChange | None = None
    try:
        async with gate:
            pred = (await model.predict(obs, t.action, n=1, budget=budget))[0]
        text, tokens = pred.text, pred.tokens
        failure = "parse"
        predicted = parse_change(text)  # only to tell an unreadable reply from the rest
        failure = "apply"
        predicted = read_change(text, t.before, finished=pred.finish_reason != "length")
        failure = ""
    except LLMError as e:
        failure, why = "request", str(e)
    except ChangeFormatError as e:
        predicted, why = None, str(e)
    return Scored(t.task, t.seed, t.step, t.source, t.action, text, failure, why, tokens,
                  score_change(None if failure else predicted, real))


async def evaluate(client: LLMClient, transitions: Sequence[Transition], *,
                   concurrency: int = 8, max_tokens: int | None = None, seed: int = 0,
                   examples: ExampleBank | None = None, budget: Budget | None = None,
                   local: bool = False) -> list[Scored]:
    """Every transition's prediction scored, at most `concurrency` requests in flight;
    `max_tokens` None keeps the world model's own limit (what the planner gets); `examples`
    shown to the world model (never of the transition's own task); `budget` (unlimited)
    counts the tokens spent; `local`: the local-first world model around the LLM's."""
    llm = WorldModel(client, seed=seed, tags={"benchmark": "world_model_accuracy"},
                       examples=examples)
    if max_tokens is not None:
        llm.max_tokens = max_tokens
    model: PagePredictor = LocalFirstWorldModel(llm) if local else llm
    gate = asyncio.Semaphore(max(1, concurrency))
    return list(await asyncio.gather(*[predict_one(model, t, gate, budget)
                                       for t in transitions]))


def summarise(rows: Sequence[Scored], seed: int) -> dict[str, Any]:
    """Means with bootstrap intervals over transitions, and failure rates."""
    def values(r: Scored, m: str) -> float:
        return float(getattr(r.score, m))
    n = len(rows)
    out: dict[str, Any] = {"n": n, "completion_tokens": sum(r.tokens for r in rows)}
    for m in METRICS:
        out[m] = mean_ci([values(r, m) for r in rows], seed=seed,
                         confidence=CONFIDENCE).to_dict()
    for kind in ("request", "parse", "apply"):
        out[f"{kind}_failure_rate"] = sum(r.failure == kind for r in rows) / n if n else 0.0
    # the trivial model that always answers "nothing changes" is exact this often
    out["nothing_changes_exact"] = sum(r.score.real_items == 0 for r in rows) / n if n else 0.0
    return out


def against(rows: Sequence[Scored], path: Path, seed: int) -> dict[str, Any]:
    """Paired differences (these rows - the results file's predictions) per metric, over
    the transitions both scored (task, seed, step, source), with bootstrap intervals."""
    theirs = {(p["task"], p["seed"], p["step"], p["source"]): p["score"]
              for p in json.loads(path.read_text())["predictions"]}
    pairs = [(r, theirs[k]) for r in rows if (k := (r.task, r.seed, r.step, r.source)) in theirs]
    if not pairs:
        raise SystemExit(f"{path} scored none of these transitions")
    return {"file": str(path), "pairs": len(pairs), **{
        m: difference_ci([float(getattr(r.score, m)) for r, _ in pairs],
                         [float(t[m]) for _, t in pairs], seed=seed,
                         confidence=CONFIDENCE).to_dict() for m in METRICS}}


def _cell(d: dict[str, float]) -> str:
    return str(Interval(d["point"], d["low"], d["high"], int(d["n"]), d["confidence"]))


def table(per_task: dict[str, dict[str, Any]], overall: dict[str, Any]) -> str:
    head = (f"{'task':26s} {'n':>4s}  " + "  ".join(f"{m:21s}" for m in METRICS) +
            "  parse  apply  request  null")
    lines = [head]
    for task, s in [*per_task.items(), ("OVERALL", overall)]:
        lines.append(f"{task:26s} {s['n']:4d}  " + "  ".join(f"{_cell(s[m]):21s}"
                                                            for m in METRICS) +
                     f"  {s['parse_failure_rate']:5.2f}  {s['apply_failure_rate']:5.2f}"
                     f"  {s['request_failure_rate']:7.2f}  {s['nothing_changes_exact']:4.2f}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llm-url", nargs="+", default=["http://127.0.0.1:8321"])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--per-task", type=int, default=10, help="transitions per task")
    ap.add_argument("--tasks", nargs="*", default=[], help="a subset of the dataset's tasks")
    ap.add_argument("--seed", type=int, default=0, help="of the sample and the bootstrap")
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    ap.add_argument("--max-tokens", type=int, default=None,
                    help="per prediction (tokens); default: the world model's own")
    ap.add_argument("--examples", type=Path, default=None,
                    help="a transitions file whose other tasks' transitions are shown to the "
                         "world model as worked examples (default: none)")
    ap.add_argument("--shots", type=int, default=SHOTS, help="examples per prediction")
    ap.add_argument("--local", action="store_true",
                    help="local-first world model: local effects computed, the LLM asked "
                         "for the rest")
    ap.add_argument("--against", type=Path, default=None,
                    help="an earlier results file: paired differences on shared transitions")
    ap.add_argument("--label", default="", help="results file label (default: the model)")
    ap.add_argument("--out", type=Path, default=None, help="results JSON path")
    return ap.parse_args(argv)


async def run(client: LLMClient, args: argparse.Namespace) -> dict[str, Any]:
    """The benchmark: sample, predict, score, print the table, write the JSON."""
    data = read_transitions(args.data)
    if data.bad_lines or data.incomplete:
        print(f"dataset: skipped lines {data.bad_lines} and incomplete episodes "
              f"{data.incomplete}")
    chosen = sample(data.transitions, args.per_task, args.seed, args.tasks)
    if not chosen:
        raise SystemExit(f"no transitions in {args.data} for tasks {args.tasks or 'any'}")
    model_name = await client.served_model()
    load_before, t0 = os.getloadavg(), time.time()
    max_tokens = args.max_tokens or WorldModel(client).max_tokens  # tokens per prediction
    bank = read_example_bank(args.examples, args.shots) if args.examples else None
    spent = Budget()  # no limit: counts prompt (cached or not) and completion tokens
    rows = await evaluate(client, chosen, concurrency=args.concurrency,
                          max_tokens=max_tokens, seed=args.seed, examples=bank, budget=spent,
                          local=args.local)
    computed = sum(r.tokens == 0 and not r.failure for r in rows)  # the LLM spends >= 1
    per_task = {task: summarise([r for r in rows if r.task == task], args.seed)
                for task in sorted({r.task for r in rows})}
    overall = summarise(rows, args.seed)
    label = args.label or re.sub(r"[^A-Za-z0-9._-]+", "-", model_name).strip("-")
    out = args.out or RESULTS / f"world_model_accuracy-{label}.json"
    diff = against(rows, args.against, args.seed) if args.against else None
    result = {
        "meta": {"model": model_name, "llm_urls": list(args.llm_url),
                 "slice": {"data": str(args.data), "per_task": args.per_task,
                           "tasks": sorted(per_task), "transitions": len(rows),
                           "sources": {s: sum(r.source == s for r in rows)
                                       for s in sorted({r.source for r in rows})}},
                 "seed": args.seed, "confidence": CONFIDENCE,
                 "max_tokens": max_tokens, "concurrency": args.concurrency,
                 "examples": ({"data": str(args.examples), "shots": args.shots,
                               "bank": len(bank), "leave_task_out": True}
                              if bank is not None else None),
                 "tokens": spent.token_counts(),
                 "local_first": ({"computed": computed, "asked": len(rows) - computed}
                                 if args.local else None),
                 "load_avg_before": load_before, "load_avg_after": os.getloadavg(),
                 "wall_s": time.time() - t0, "time": time.time(),
                 "note": "means over transitions with bootstrap intervals; unreadable, "
                         "unappliable and failed predictions score 0; cost in completion "
                         "tokens"},
        "overall": overall, "per_task": per_task,
        "against": diff,
        "predictions": [{**asdict(r), "score": asdict(r.score)} for r in rows]}
    print(f"model {model_name}; {len(rows)} transitions ({args.per_task} per task, seed "
          f"{args.seed}) of {args.data.name}; {int(CONFIDENCE * 100)}% bootstrap intervals "
          f"over transitions; {overall['completion_tokens']} completion tokens, "
          f"{spent.spent_prompt_tokens} prompt tokens ({spent.spent_cached_tokens} cached); "
          + (f"{args.shots} examples per prediction from other tasks of {args.examples.name}"
             if bank is not None else "no examples")
          + (f"; local-first: {computed} computed, {len(rows) - computed} asked"
             if args.local else ""))
    print(table(per_task, overall))
    print("parse / apply / request: failure rates (scored 0); null: the exact-match rate of "
          "always answering 'nothing changes'")
    if diff is not None:
        print(f"paired against {diff['file']} ({diff['pairs']} transitions): "
              + "  ".join(f"{m} {_cell(diff[m])}" for m in METRICS))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return result


async def _main(args: argparse.Namespace) -> None:
    async with connect(args.llm_url, max_concurrency=args.concurrency) as client:
        await run(client, args)


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(_main(parse_args(argv)))


if __name__ == "__main__":
    main()
