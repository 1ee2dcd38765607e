"""The fitted web controller against always-act and the best single route arm, held out by
task (issue 14 item 6). No server, no browser: it reads a counterfactual file.

    # collect (the served model, the real browser; ~10-40 s a step on a 2-core CPU):
    worldplan web-controller collect --out benchmarks/results/web_cf-dev.jsonl \\
        --suite miniwob-dev --limit 20 --seeds 1 --states 2 \\
        --arms "act;revise:rounds=1;branch:depth=1,width=3" --llm-url URL
    # then:
    .venv/bin/python benchmarks/web_controller_fit.py benchmarks/results/web_cf-dev.jsonl \\
        --allowances 1,500,1000,2000 --label dev

Fits the difficulty predictor, its cuts and the (bin, allowance) -> route table with
leave-task-out cross-validation (agent.web.controller_fit), prints the held-out success per
step allowance of the fitted controller, always-act, the best single arm and the per-state
oracle, each with a 90% bootstrap interval over states, and the paired differences; prints
the slice it rests on (tasks, seeds, states, arms, model, what was dropped), the fitted
table, and the host's load; writes benchmarks/results/web_controller_fit-LABEL.json.
Allowances and arm tokens are uncached prompt + completion tokens (the live budget's unit
when it counts prompts) unless `--unit completion`.
Not handled: collecting (hours on a 2-core CPU: run it separately, see above).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import typer

from worldplan.agent.web.controller_fit import WebFitSettings, cv_table, fit_web_policy
from worldplan.agent.web.counterfactual_rows import CounterfactualFile

RESULTS = Path(__file__).resolve().parent / "results"


def main(rows: Path = typer.Argument(..., help="Counterfactual file (web-controller collect)."),
         allowances: str = typer.Option("1,500,1000,2000", help="Step allowances (tokens)."),
         unit: str = typer.Option("total", help="total | completion."),
         folds: int = typer.Option(0, help="Folds over tasks (0: leave one task out)."),
         seed: int = typer.Option(0, help="Seed of the bootstrap."),
         label: str = typer.Option("dev", help="Name of the result file.")) -> None:
    host = {"machine": platform.machine(), "cpus": os.cpu_count(),
            "load_average": os.getloadavg()}
    print(f"host {host}")
    collected = CounterfactualFile(rows).read()
    if collected.report():
        print(collected.report())
    settings = WebFitSettings(tuple(int(a) for a in allowances.split(",")), unit, folds,
                              seed=seed)
    policy = fit_web_policy(collected, settings, note=f"benchmark {label}")
    meta = policy.metadata
    print(f"slice: {meta['fitted_on']}; tasks {', '.join(meta['tasks'])}; seeds "
          f"{meta['seeds']}; dropped states {meta['dropped_states']}; act success on the "
          f"states {meta['act_success']:.3f}; states per bin {meta['states_per_bin']}")
    print(cv_table(meta["cv"], meta["arms"]))
    print("fitted table (all states):")
    for e in policy.entries:
        print(f"  allowance {e.budget:>5}  bin {'any' if e.bin is None else e.bin:>3}  "
              f"{e.strategy:<7} {e.params}  success {e.accuracy} (n={e.n}) {e.note}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"web_controller_fit-{label}.json"
    out.write_text(json.dumps({"rows": str(rows), "host": host, "policy": policy.to_dict()},
                              indent=1, default=float) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    typer.run(main)
