"""Step-level search at budget scale with the real model: beam search (N = 4, 16) and DVTS
(N = 16) on a few MATH-500 problems, each within its budget, with the verifier's prefix-cache
hit rate measured.

    .venv/bin/python benchmarks/search_real.py --problems 4
    .venv/bin/python benchmarks/search_real.py --llm-url http://127.0.0.1:8321 --configs beam:4

Each config runs every problem at once (the server batches); the budget is N
generation-equivalents per problem (Snell et al.'s unit: N beams cost N), the generative
verifier is free as in the paper and asks its question as a continuation of the solution's
own conversation. Per config: accuracy with a 95% bootstrap interval (problems resampled),
the most any problem spent (<= N), tokens (uncached prompt + completion), FLOPs, the
verifier's prompt tokens and the share of them served from the prefix cache, rounds and wall
time. Finished (config, problem) rows are kept in benchmarks/results/search_real[-LABEL].jsonl,
so a killed run resumes where it stopped; the table and JSON are written at the end. Every
call is traced in a SQLite file beside it (not committed). Prints the host and load.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.beam import beam_search
from worldplan.agent.strategies.dvts import dvts
from worldplan.envs.math.data import MathProblem, load_problems
from worldplan.envs.math.equivalence import grader_equal
from worldplan.envs.math.grader import Grader
from worldplan.traces.engine import make_engine
from worldplan.traces.intervals import mean_ci
from worldplan.traces.provenance import host_info
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.connect import served_params
from worldplan.worldmodel.llm.models import DEFAULT_DEMO_MODEL, resolve_model
from worldplan.worldmodel.llm.serving import free_port, start_server, stop_server
from worldplan.worldmodel.math.verifier import GenerativeVerifier

RESULTS = Path(__file__).resolve().parent / "results"
STRATEGIES = {"beam": beam_search, "dvts": dvts}
console = Console()


async def one(name: str, n: int, p: MathProblem, client: LLMClient, grader: Grader,
              settings: dict[str, Any]) -> dict[str, Any]:
    ctx = SearchContext(client, GenerativeVerifier(client), Budget(max_generations=n),
                        max_tokens=settings["max_tokens"],
                        step_max_tokens=settings["step_max_tokens"],
                        temperature=settings["temperature"], seed=settings["seed"],
                        same_answer=grader_equal(grader), tags={"task": p.uid})
    t0 = time.perf_counter()
    res = await STRATEGIES[name](p.problem, ctx)
    wall = time.perf_counter() - t0
    grade = await asyncio.to_thread(grader.grade, res.answer, p.answer)
    v = res.verifier
    return {"config": f"{name}:{n}", "uid": p.uid, "level": p.level, "answer": res.answer,
            "correct": grade.correct, "budget": n, "spent": res.charged.generations,
            "solver_samples": res.solver.samples, "tokens": res.total.tokens,
            "flops": res.total.flops, "verifier_prompt_tokens": v.prompt_tokens,
            "verifier_cached_tokens": v.cached_tokens, "verifier_calls": v.calls,
            "rounds": res.params.get("rounds"), "stop_reason": res.stop_reason,
            "candidates": len(res.candidates), "wall_s": round(wall, 1)}


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for config in dict.fromkeys(r["config"] for r in rows):
        rs = [r for r in rows if r["config"] == config]
        vp = sum(r["verifier_prompt_tokens"] for r in rs)
        acc = mean_ci([float(r["correct"]) for r in rs])
        out.append({"config": config, "problems": len(rs), "accuracy": acc.to_dict(),
                    "accuracy_text": str(acc), "max_spent": max(r["spent"] for r in rs),
                    "budget": rs[0]["budget"], "tokens": sum(r["tokens"] for r in rs),
                    "flops": sum(r["flops"] for r in rs), "verifier_prompt_tokens": vp,
                    "verifier_cached_fraction": (sum(r["verifier_cached_tokens"] for r in rs)
                                                 / vp if vp else None),
                    "mean_rounds": sum(r["rounds"] or 0 for r in rs) / len(rs),
                    "wall_s": round(max(r["wall_s"] for r in rs), 1)})
    return out


def main(
    problems: int = typer.Option(4, help="MATH-500 problems (the first of each level, "
                                 "cycling levels 1-5)."),
    configs: str = typer.Option("beam:4,beam:16,dvts:16", help="strategy:N, comma-separated."),
    llm_url: str = typer.Option("", help="A running server (default: start the model)."),
    model: str = typer.Option(DEFAULT_DEMO_MODEL, help="Model to serve."),
    max_tokens: int = typer.Option(384, help="Max tokens of a full solution."),
    step_max_tokens: int = typer.Option(128, help="Max tokens of one step."),
    seed: int = typer.Option(0, help="Sampling seed."),
    label: str = typer.Option("", help="Suffix of the result files."),
) -> None:
    settings = {"max_tokens": max_tokens, "step_max_tokens": step_max_tokens,
                "temperature": 0.8, "seed": seed}
    suffix = f"-{label}" if label else ""
    rows_path = RESULTS / f"search_real{suffix}.jsonl"
    done = ([json.loads(line) for line in rows_path.read_text().splitlines() if line.strip()]
            if rows_path.exists() else [])
    pool = load_problems("math500")
    chosen: list[MathProblem] = []
    for i in range(problems):  # levels 1..5 in turn, a new problem each time
        level = 1 + i % 5
        chosen.append(next(p for p in pool if p.level == level and p not in chosen))
    info = None
    if not llm_url:
        info = start_server(resolve_model(model), port=free_port(), reuse=False,
                            max_model_len=4096, kv_cache_gib=4)
        llm_url = info.url
    load0 = os.getloadavg()
    store = TraceStore(make_engine(str(RESULTS / f"search_real{suffix}.db")))
    try:
        client = LLMClient(llm_url, n_params=served_params(llm_url), timeout_s=3600,
                           max_concurrency=64)
        run_id = store.start_run(kind="bench", name="search_real")
        client.observers.append(store.observer(run_id))
        with Grader() as grader:
            for spec in configs.split(","):
                name, n = spec.split(":")[0], int(spec.split(":")[1])
                todo = [p for p in chosen
                        if not any(r["config"] == spec and r["uid"] == p.uid for r in done)]
                console.print(f"{spec}: {len(todo)} problems to run")

                async def batch(ps: list[MathProblem], name: str = name,
                                n: int = n) -> list[dict[str, Any]]:
                    return list(await asyncio.gather(*[one(name, n, p, client, grader, settings)
                                                       for p in ps]))

                for row in asyncio.run(batch(todo)):
                    done.append(row)
                    with rows_path.open("a") as f:
                        f.write(json.dumps(row) + "\n")
    finally:
        if info is not None:
            stop_server(info.port)
    load1 = os.getloadavg()
    rows = [r for r in done if r["uid"] in {p.uid for p in chosen}]
    summary = summarize(rows)
    table = Table(title=f"search at budget scale, {model}, {len(chosen)} MATH-500 problems")
    for col in ("config", "accuracy [95% CI]", "max spent / N", "tokens", "verifier cached",
                "rounds", "wall s"):
        table.add_column(col)
    for s in summary:
        frac = s["verifier_cached_fraction"]
        table.add_row(s["config"], s["accuracy_text"], f"{s['max_spent']} / {s['budget']}",
                      str(s["tokens"]), "n/a" if frac is None else f"{frac:.1%}",
                      f"{s['mean_rounds']:.1f}", str(s["wall_s"]))
    console.print(table)
    host = host_info()  # once: the printed and the stored host (and its load) agree
    console.print(f"host {host}, load {load0} -> {load1}")
    out = RESULTS / f"search_real{suffix}.json"
    out.write_text(json.dumps({"model": model, "settings": settings, "host": host,
                               "load_start": load0, "load_end": load1,
                               "problems": [p.uid for p in chosen], "summary": summary,
                               "rows": rows}, indent=2))
    console.print(f"wrote {out}")


if __name__ == "__main__":
    typer.run(main)
