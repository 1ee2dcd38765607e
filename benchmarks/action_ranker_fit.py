"""Fit the web agent's action ranker on judged oracle pages, with tasks held out.

Input: judge_selection.py results with the choice judge (`--judge choice`, several runs
allowed: each is one more sample of proposals and judge scores on the pages), and the
transition file their pages came from (the page, the goal and the oracle's earlier actions).
Every candidate of every page (the proposals and the enumerated actions) is a row of
`worldmodel.web.action_features.FEATURES`, labelled 1 when it is the oracle's action.
Two rankers are fitted (worldmodel.web.action_ranker.fit_ranker): `ranked` on every feature,
the choice judge's probability and rank included, on the runs whose judge was asked as the
agent's is (SERVED: one order, no targets; recorded in the ranker's meta, and make_models
refuses another judge), and `features` on the page's facts and the proposer's votes alone,
on every run (no judge: what the LLM judge adds is the difference). Leave-task-out
cross-validation: for each task, both are fitted on the other tasks' rows and pick on its
pages (the SERVED runs' pages); the table gives how often each selection picks the oracle's
action (greedy, majority, the choice judge, both rankers, and `any`: the oracle's action is
a candidate), with bootstrap 90% intervals over page samples and paired differences. Then
each is fitted on all its rows (`ranked` the SERVED runs', `features` every run's) and
written to agent/policies/web_ranker.json and web_ranker_features.json.

    .venv/bin/python benchmarks/action_ranker_fit.py [--pages FILE ...] [--c 0.1]
    .venv/bin/python benchmarks/action_ranker_fit.py --evaluate --pages OTHER_TASKS.json \
        --data benchmarks/web_transitions/miniwob-outside15.jsonl --out FILE

`--evaluate` fits nothing: it scores the bundled rankers on judged pages of other tasks
(a held-out test of what they learned).

Writes benchmarks/results/action_ranker_fit.json (files, sizes, the table, per task).
Limits: the oracle's action is one right action (where several are right, every selection
is marked down alike); the pages are the oracle's, not the agent's own later states; a
page sampled in several runs is counted once per run (the interval is over those samples).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from worldplan.agent.runs.web_transitions import read_transitions
from worldplan.envs.web.actions import canonical_action
from worldplan.envs.web.axtree import parse_tree
from worldplan.envs.web.observation import WebObservation
from worldplan.traces.intervals import difference_ci, mean_ci
from worldplan.worldmodel.web.action_features import (
    FEATURES,
    JUDGE_FEATURES,
    OptionFacts,
    action_features,
)
from worldplan.worldmodel.web.action_ranker import (
    ActionRanker,
    fit_ranker,
    judge_ranks,
    read_ranker,
    write_ranker,
)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
POLICIES = HERE.parent / "agent" / "policies"
DATA = HERE / "web_transitions" / "miniwob-dev.jsonl"
PAGES = [RESULTS / f"judge_selection-qwen2.5-coder-1.5b-n3-all-x8-choice{s}.json"
         for s in ("", "-t", "-o2", "-p5")]
CONFIDENCE = 0.90
NO_JUDGE = tuple(f for f in FEATURES if f not in JUDGE_FEATURES)
SERVED = {"orders": 1, "targets": False}  # the choice judge the ranked-expand arm asks
SELECTIONS = ("greedy", "majority", "judge", "ranked", "features", "any")


def page_rows(pages_files: Sequence[Path], data: Path) -> list[dict[str, Any]]:
    """One record per judged page sample: task, the page (key, observation, history, goal,
    tree), its candidate actions with their feature rows and labels, and the stored
    selections' outcomes."""
    oracle = {(t.task, t.seed, t.step): t for t in read_transitions(data).transitions
              if t.source == "oracle"}
    out = []
    for f in pages_files:
        d = json.loads(f.read_text())
        if d["meta"].get("judge") != "choice":
            raise SystemExit(f"{f}: not a choice-judge run (judge={d['meta'].get('judge')})")
        asked = {"orders": int(d["meta"].get("orders", 1)),
                 "targets": bool(d["meta"].get("targets", False))}
        for p in d["pages"]:
            t = oracle.get((p["task"], p["seed"], p["step"]))
            if t is None:
                raise SystemExit(f"{f}: page {p['task']} {p['seed']} {p['step']} is not in {data}")
            history = [canonical_action(oracle[(t.task, t.seed, s)].action)
                       for s in range(t.step)]
            obs = WebObservation(goal=t.goal, url=t.url, axtree=t.before,
                                 last_action=history[-1] if history else "").to_prompt()
            actions = [a for a, _ in p["candidates"]] + list(p["added"])
            if not actions or not p["scores"]:
                continue
            votes = [int(c) for _, c in p["candidates"]] + [0] * len(p["added"])
            total = sum(votes)
            nodes = parse_tree(obs)
            ranks = judge_ranks(p["scores"])
            greedy = p.get("greedy_proposal", p["greedy"])  # older files: every page had one
            rows = [action_features(t.goal, obs, history, a,
                                    OptionFacts(v, total, a == greedy), p["scores"][i],
                                    ranks[i], nodes=nodes)
                    for i, (a, v) in enumerate(zip(actions, votes, strict=True))]
            want = canonical_action(p["oracle"])
            out.append({"task": p["task"], "rows": rows, "asked": asked,
                        # what a world model needs to imagine the candidates (imagined_ranker)
                        "key": (t.task, t.seed, t.step), "actions": actions, "obs": obs,
                        "history": history, "goal": t.goal, "tree": t.before,
                        "labels": [float(canonical_action(a) == want) for a in actions],
                        **{k: float(p[f"{k}_right"]) for k in ("greedy", "majority", "judge",
                                                                "any")}})
    return out


def _pick_right(ranker: ActionRanker, page: dict[str, Any]) -> float:
    logits = [ranker.logit(r) for r in page["rows"]]
    best = max(range(len(logits)), key=lambda i: (logits[i], -i))
    return page["labels"][best]


def _fit(pages: Sequence[dict[str, Any]], features: Sequence[str], c: float,
         meta: dict[str, Any] | None = None) -> ActionRanker:
    rows = [r for p in pages for r in p["rows"]]
    labels = [y for p in pages for y in p["labels"]]
    return fit_ranker(rows, labels, features, c=c, meta=meta)


def cross_validate(pages: list[dict[str, Any]], c: float) -> None:
    """Adds each page's `ranked` and `features` outcome, fitted without its task: `ranked`
    on the pages judged as the agent's judge asks (SERVED), `features` on every page."""
    for task in sorted({p["task"] for p in pages}):
        train = [p for p in pages if p["task"] != task]
        both = {"ranked": _fit(served(train), FEATURES, c),
                "features": _fit(train, NO_JUDGE, c)}
        for p in pages:
            if p["task"] == task:
                for name, ranker in both.items():
                    p[name] = _pick_right(ranker, p)


def served(pages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pages whose judge was asked as the agent's choice judge asks (SERVED)."""
    return [p for p in pages if p["asked"] == SERVED]


def table(pages: Sequence[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {k: mean_ci([p[k] for p in pages], seed=seed,
                                      confidence=CONFIDENCE).to_dict() for k in SELECTIONS}
    for a, b in (("ranked", "judge"), ("ranked", "majority"), ("ranked", "features"),
                 ("features", "majority")):
        out[f"{a}_minus_{b}"] = difference_ci([p[a] for p in pages], [p[b] for p in pages],
                                              seed=seed, confidence=CONFIDENCE).to_dict()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=Path, nargs="*", default=[p for p in PAGES if p.exists()])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--c", type=float, default=0.1, help="inverse L2 strength")
    ap.add_argument("--out", type=Path, default=RESULTS / "action_ranker_fit.json")
    ap.add_argument("--policies", type=Path, default=POLICIES)
    ap.add_argument("--evaluate", action="store_true",
                    help="fit nothing: score the rankers in --policies on --pages (pages of "
                         "tasks they were not fitted on)")
    args = ap.parse_args()
    pages = page_rows(args.pages, args.data)
    if not pages:
        raise SystemExit("no judged pages: run benchmarks/judge_selection.py --judge choice")
    if args.evaluate:
        bundled = {"ranked": read_ranker(args.policies / "web_ranker.json"),
                   "features": read_ranker(args.policies / "web_ranker_features.json")}
        for p in pages:
            for name, ranker in bundled.items():
                p[name] = _pick_right(ranker, p)
    else:
        cross_validate(pages, args.c)
    scored = served(pages)
    if not scored:
        raise SystemExit(f"no pages judged as the agent asks ({SERVED})")
    summary = table(scored)
    tasks = sorted({p["task"] for p in scored})
    per_task = {t: {k: sum(p[k] for p in scored if p["task"] == t) for k in SELECTIONS}
                | {"pages": sum(p["task"] == t for p in scored)} for t in tasks}
    meta = {"pages": len(pages), "served_pages": len(scored), "tasks": len(tasks),
            "rows": sum(len(p["rows"]) for p in pages), "judge": SERVED,
            "files": [str(f.relative_to(HERE.parent)) if f.is_relative_to(HERE.parent)
                      else str(f) for f in args.pages],
            "c": args.c, "confidence": CONFIDENCE, "load_avg": os.getloadavg(),
            "note": "1 when the pick is the oracle's action; bootstrap over page samples; "
                    + ("the bundled rankers, fitted on other tasks" if args.evaluate else
                       "rankers fitted with the page's task held out")}
    if not args.evaluate:
        write_ranker(_fit(scored, FEATURES, args.c, {**meta, "cv_pick": summary["ranked"]}),
                     args.policies / "web_ranker.json")
        write_ranker(_fit(pages, NO_JUDGE, args.c, {**{k: v for k, v in meta.items()
                                                       if k != "judge"},
                                                    "cv_pick": summary["features"]}),
                     args.policies / "web_ranker_features.json")
    args.out.write_text(json.dumps({"meta": meta, "summary": summary, "per_task": per_task},
                                   indent=1) + "\n")
    how = "the bundled rankers" if args.evaluate else "leave-task-out"
    print(f"{len(scored)} page samples judged as served ({len(pages)} in all) of {len(tasks)} "
          f"tasks, {meta['rows']} candidates; {how}, 90% bootstrap:")
    for k, v in summary.items():
        print(f"  {k:22s} {v['point']:+.3f} [{v['low']:+.3f}, {v['high']:+.3f}]")
    print(f"{'task':26s} pages " + " ".join(f"{k:>8s}" for k in SELECTIONS))
    for t, r in per_task.items():
        print(f"{t:26s} {r['pages']:5d} " + " ".join(f"{r[k]:8.0f}" for k in SELECTIONS))
    print(f"wrote {args.out}" + ("" if args.evaluate else
                                 f" and {args.policies}/web_ranker*.json"))

if __name__ == "__main__":
    main()
