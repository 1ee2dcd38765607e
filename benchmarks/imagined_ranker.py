"""Does a world model's imagined change help the action ranker pick the oracle's action?

The fitted action ranker (benchmarks/action_ranker_fit.py) reads the page as it is. Here each
candidate of every judged oracle page also gets its imagined next page from a world model,
read as numbers (`worldmodel.web.imagined_features`: predicted to do nothing, size of the
change, a goal-quoted text or goal words newly shown, progress towards the goal's named
items), and the facts-only ranker is refitted with them (`features+wm`), leave-task-out as
before. World models (`--world-model`):
- `local`: the local-first world model the agent runs with `--world-model local`
  (worldmodel.web.local_first: fills, ticks, selections and inert clicks computed, the LLM
  world model asked for the rest, greedy, no examples);
- `peek`: the real next page, from a twin page reset and replayed (agent.web.peek_world_model:
  a world model that is never wrong, the ceiling of any better one).
Predictions are cached in benchmarks/results/imagined_changes-<world model>.jsonl, one line
per (task, seed, step, action), appended as they come: a killed run resumes, a bad line is
skipped and predicted again.
Dev pages (18 tasks, the pages action_ranker_fit uses): the pick rates of `features` and
`features+wm`, fitted without the page's task, with the paired difference (bootstrap 90%
over page samples). Held out (the judged pages of the 15 tasks outside dev, OUTSIDE_PAGES):
both fitted on every dev page and scored there, nothing fitted on them.

    .venv/bin/python benchmarks/imagined_ranker.py --world-model local [--llm-url URL]
    .venv/bin/python benchmarks/imagined_ranker.py --world-model peek --concurrency 2

Writes benchmarks/results/imagined_ranker-<world model>.json, and the `features+wm` ranker
fitted on every dev page to agent/policies/web_ranker_dream-<world model>.json (its meta
names the world model; agent.web.config refuses it with another). Limits: those of
action_ranker_fit (the oracle's action is one right action; pages are the oracle's); no
world model of pages, the peek one included, tells a winning final action from a losing one:
after either, the twin shows the next episode's start screen, and no page shows the reward
(session 11: in episodes this costs the dream rankers the click-tab and enter-date finals).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import action_ranker_fit as arf  # noqa: E402  (a sibling script, not a package)

from worldplan.agent.runs.web_envs import MiniWoBEnvs  # noqa: E402
from worldplan.agent.web.peek_world_model import PeekingWorldModel  # noqa: E402
from worldplan.envs.web.actions import canonical_action  # noqa: E402
from worldplan.traces.intervals import difference_ci, mean_ci  # noqa: E402
from worldplan.worldmodel.llm.connect import connect  # noqa: E402
from worldplan.worldmodel.web.imagined_features import (  # noqa: E402
    IMAGINED_FEATURES,
    imagined_features,
)
from worldplan.worldmodel.web.local_first import LocalFirstWorldModel  # noqa: E402
from worldplan.worldmodel.web.world_model import WorldModel  # noqa: E402

DATA, NO_JUDGE, PAGES, RESULTS = arf.DATA, arf.NO_JUDGE, arf.PAGES, arf.RESULTS
OUTSIDE_PAGES = RESULTS / "judge_selection-qwen2.5-coder-1.5b-n3-all-x8-choice-outside15.json"
OUTSIDE_DATA = DATA.parent / "miniwob-outside15.jsonl"
CONFIDENCE = 0.90
Key = tuple[str, int, int, str]


def candidates(pages: Sequence[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    """Every (task, seed, step, canonical action) of the pages (action_ranker_fit.page_rows
    records), with the page record that holds what predicting it needs."""
    return {(*p["key"], canonical_action(a)): p for p in pages for a in p["actions"]}


def read_cache(path: Path) -> dict[Key, dict[str, Any]]:
    out: dict[Key, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                r = json.loads(line)
                out[(r["task"], int(r["seed"]), int(r["step"]), r["action"])] = r
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # a torn or corrupt line: predicted again
    return out


async def predict_all(todo: dict[Key, dict[str, Any]], cache: Path, world_model: str,
                      llm_url: Sequence[str], concurrency: int) -> None:
    """Predict every candidate not in `cache`, appending each as it comes."""
    done = read_cache(cache)
    keys = [k for k in todo if k not in done]
    print(f"{len(todo)} candidates, {len(done)} cached, {len(keys)} to predict")
    if not keys:
        return

    def write(key: Key, text: str, error: str, tokens: int) -> None:
        with cache.open("a") as f:
            f.write(json.dumps({"task": key[0], "seed": key[1], "step": key[2],
                                "action": key[3], "change": text, "error": error,
                                "tokens": tokens}) + "\n")

    if world_model == "local":
        model = LocalFirstWorldModel(WorldModel(connect(list(llm_url)), seed=0))
        gate = asyncio.Semaphore(concurrency)

        async def one(k: Key) -> None:
            async with gate:
                [p] = await model.predict(todo[k]["obs"], k[3], history=todo[k]["history"])
            write(k, p.text, p.error, p.tokens)

        await asyncio.gather(*[one(k) for k in keys])
        print(f"local-first: {model.local} computed, {model.asked} asked")
        return
    tasks = sorted({k[0] for k in keys})
    async with MiniWoBEnvs(tasks) as envs:

        async def worker(mine: Sequence[str]) -> None:  # one twin page at a time
            for task in mine:
                async with envs.episode(task) as twin:
                    for k in [k for k in keys if k[0] == task]:
                        peek = PeekingWorldModel(twin, k[1])
                        [p] = await peek.predict(todo[k]["obs"], k[3],
                                                 history=todo[k]["history"])
                        write(k, p.text, p.error, 0)
                print(f"  {task}: {sum(k[0] == task for k in keys)} predicted", flush=True)

        await asyncio.gather(*[worker(tasks[i::concurrency]) for i in range(concurrency)])


def add_wm_rows(pages: list[dict[str, Any]], cache: dict[Key, dict[str, Any]]) -> None:
    """Extend each page's feature rows with the imagined features of its candidates."""
    for p in pages:
        for j, a in enumerate(p["actions"]):
            c = cache[(*p["key"], canonical_action(a))]
            wm = imagined_features(p["goal"], p["tree"], c["change"], c["error"])
            p["rows"][j] = [*p["rows"][j], *(wm[k] for k in IMAGINED_FEATURES)]


def cross_validate(pages: list[dict[str, Any]], c: float) -> None:
    with_wm = (*NO_JUDGE, *IMAGINED_FEATURES)
    for task in sorted({p["task"] for p in pages}):
        train = [p for p in pages if p["task"] != task]
        both = {"features": arf._fit(train, NO_JUDGE, c),
                "features+wm": arf._fit(train, with_wm, c)}
        for p in pages:
            if p["task"] == task:
                for name, r in both.items():
                    p[name] = arf._pick_right(r, p)


def summary(pages: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out = {k: mean_ci([p[k] for p in pages], confidence=CONFIDENCE).to_dict()
           for k in ("features", "features+wm", "any")}
    out["wm_minus_features"] = difference_ci([p["features+wm"] for p in pages],
                                             [p["features"] for p in pages],
                                             confidence=CONFIDENCE).to_dict()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--world-model", choices=("local", "peek"), required=True)
    ap.add_argument("--llm-url", nargs="+", default=["http://127.0.0.1:8321"])
    ap.add_argument("--concurrency", type=int, default=8,
                    help="requests in flight (local); twin pages (peek: 2 on 2 cores)")
    ap.add_argument("--c", type=float, default=0.1, help="inverse L2 strength")
    args = ap.parse_args()
    dev = [p for p in PAGES if p.exists()]
    cache = RESULTS / f"imagined_changes-{args.world_model}.jsonl"
    pages = arf.page_rows(dev, DATA)
    outside = arf.page_rows([OUTSIDE_PAGES], OUTSIDE_DATA)
    todo = candidates(pages + outside)
    t0, load = time.time(), os.getloadavg()
    asyncio.run(predict_all(todo, cache, args.world_model, args.llm_url, args.concurrency))
    got = read_cache(cache)
    add_wm_rows(pages, got)
    add_wm_rows(outside, got)
    cross_validate(pages, args.c)
    scored = arf.served(pages)
    fitted = {"features": arf._fit(pages, NO_JUDGE, args.c),
              "features+wm": arf._fit(pages, (*NO_JUDGE, *IMAGINED_FEATURES), args.c)}
    for p in outside:
        for name, r in fitted.items():
            p[name] = arf._pick_right(r, p)
    result = {"meta": {"world_model": args.world_model, "cache": str(cache.name),
                       "candidates": len(todo), "dev_pages": len(scored),
                       "heldout_pages": len(outside), "c": args.c, "confidence": CONFIDENCE,
                       "load_avg_before": load, "load_avg_after": os.getloadavg(),
                       "wall_s": time.time() - t0,
                       "tokens": sum(int(r.get("tokens", 0)) for r in got.values()),
                       "note": "1 when the pick is the oracle's action; dev: leave-task-out; "
                               "heldout: fitted on every dev page"},
              "dev": summary(scored), "heldout": summary(outside),
              "coef": dict(zip(fitted["features+wm"].features,
                               fitted["features+wm"].coef, strict=True))}
    out = RESULTS / f"imagined_ranker-{args.world_model}.json"
    dream = replace(fitted["features+wm"],
                    meta={**result["meta"], "cv_pick": result["dev"]["features+wm"],
                          "heldout_pick": result["heldout"]["features+wm"]})
    arf.write_ranker(dream, arf.POLICIES / f"web_ranker_dream-{args.world_model}.json")
    out.write_text(json.dumps(result, indent=1) + "\n")
    for part in ("dev", "heldout"):
        print(f"{part} ({len(scored) if part == 'dev' else len(outside)} page samples):")
        for k, v in result[part].items():
            print(f"  {k:20s} {v['point']:+.3f} [{v['low']:+.3f}, {v['high']:+.3f}]")
    print("imagined-feature weights:", {k: round(v, 3) for k, v in result["coef"].items()
                                        if k in IMAGINED_FEATURES})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
