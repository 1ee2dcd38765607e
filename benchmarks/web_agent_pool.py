"""Pool web_agent.py results over several task slices: each arm against reactive on every
(task, seed) episode that both ran, with paired bootstrap 90% intervals.

One slice of 15-60 episodes gives a relative lift whose interval spans tens of points (and
none at all when reactive solves almost nothing there); pooling the slices that were run
with the same model, budget and arms gives one estimate over all their tasks. Each input is
a web_agent.py JSON (`--out`); episodes are matched by (task, seed) and arm, at `--budget`.
Per arm: success, the paired difference against reactive, the relative lift
(success / reactive's - 1; percentile bootstrap over episodes), and the same split by slice.

    .venv/bin/python benchmarks/web_agent_pool.py benchmarks/results/web_agent-dev20-s10.json \
        benchmarks/results/web_agent-outside5-s10.json \
        benchmarks/results/web_agent-outside10-s10.json [--budget 4000]

`--against ARM` also pairs every other arm against ARM (what a change to it adds).
Writes benchmarks/results/web_agent-pool.json (or --out). Limits: slices must not share
(task, seed) pairs (a repeated episode is refused); the pooled episodes weigh each slice by
its size; a slice whose reactive solves nothing has no lift of its own.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from worldplan.traces.intervals import difference_ci, mean_ci, statistic_ci

RESULTS = Path(__file__).resolve().parent / "results"
CONFIDENCE = 0.90  # as web_agent.py's per-slice intervals (the library default is 0.95)


def episodes(paths: list[Path], budget: int) -> dict[str, dict[tuple[str, int], float]]:
    """arm -> (task, seed) -> success, over every file, at `budget`."""
    out: dict[str, dict[tuple[str, int], float]] = {}
    for path in paths:
        for row in json.loads(path.read_text())["rows"]:
            if int(row["budget"]) != budget:
                continue
            mine = out.setdefault(row["arm"], {})
            for e in row["episodes_detail"]:
                key = (e["task"], int(e["seed"]))
                if key in mine:
                    raise SystemExit(f"{path}: {row['arm']} {key} is in an earlier file too")
                mine[key] = float(e["success"])
    return out


def lift(pairs: np.ndarray) -> float:
    base = pairs[:, 1].mean()
    return float(pairs[:, 0].mean() / base - 1) if base > 0 else float("nan")


def compare(arm: dict[tuple[str, int], float], base: dict[tuple[str, int], float],
            confidence: float = CONFIDENCE) -> dict[str, Any]:
    keys = sorted(set(arm) & set(base))
    a = np.array([arm[k] for k in keys])
    b = np.array([base[k] for k in keys])
    return {"episodes": len(keys), "tasks": len({t for t, _ in keys}),
            "success": mean_ci(a, confidence=confidence).to_dict(),
            "reactive": float(b.mean()) if keys else None,
            "difference": difference_ci(a, b, confidence=confidence).to_dict(),
            "relative_lift": statistic_ci(np.column_stack([a, b]), lift,
                                          confidence=confidence).to_dict()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", type=Path, nargs="+")
    ap.add_argument("--budget", type=int, default=4000)
    ap.add_argument("--out", type=Path, default=RESULTS / "web_agent-pool.json")
    ap.add_argument("--against", default="", help="also pair every arm against this one "
                    "(e.g. ranker-expand: what a change to it adds), on shared episodes")
    args = ap.parse_args()
    got = episodes(args.files, args.budget)
    if "reactive" not in got:
        raise SystemExit("no reactive arm at this budget: nothing to compare against")
    models = {json.loads(p.read_text()).get("model") for p in args.files}
    rows = {arm: compare(eps, got["reactive"]) for arm, eps in got.items() if arm != "reactive"}
    per_file = {p.name: {arm: compare({k: v for k, v in eps.items() if k in keys},
                                      got["reactive"])
                         for arm, eps in got.items() if arm != "reactive"}
                for p in args.files
                for keys in [{(e["task"], int(e["seed"]))
                              for r in json.loads(p.read_text())["rows"]
                              if int(r["budget"]) == args.budget
                              for e in r["episodes_detail"]}]}
    result = {"files": [str(p) for p in args.files], "models": sorted(map(str, models)),
              "budget": args.budget, "unit": "total tokens per episode",
              "confidence": CONFIDENCE, "pooled": rows, "per_file": per_file}
    if args.against:
        if args.against not in got:
            raise SystemExit(f"no {args.against!r} arm at this budget")
        result["against"] = {"arm": args.against, "pooled": {
            arm: compare(eps, got[args.against]) for arm, eps in got.items()
            if arm not in ("reactive", args.against)}}
    args.out.write_text(json.dumps(result, indent=1) + "\n")

    def ci(d: dict[str, float]) -> str:
        return f"{d['point']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"

    n = max(r["episodes"] for r in rows.values())
    print(f"pooled over {len(args.files)} files, budget {args.budget}, models {models}; "
          f"reactive {np.mean(list(got['reactive'].values())):.3f} on {n} episodes; "
          f"paired bootstrap {CONFIDENCE:.0%} intervals")
    print(f"{'arm':18s} {'eps':>4s} {'success':>26s} {'vs reactive':>26s} {'lift':>26s}")
    for arm, r in rows.items():
        print(f"{arm:18s} {r['episodes']:4d} {ci(r['success']):>26s} "
              f"{ci(r['difference']):>26s} {ci(r['relative_lift']):>26s}")
    for arm, r in result.get("against", {}).get("pooled", {}).items():
        print(f"{arm} - {args.against} on {r['episodes']} shared episodes: "
              f"{ci(r['difference'])}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
