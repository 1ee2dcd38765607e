"""Accuracy vs test-time compute on a fixed MATH-500 slice, for every strategy.

Budgets are in generation-equivalents (Snell et al.'s unit; the verifier is free, as in the
paper, see agent.strategies.base). Best-of-N curves (weighted, majority, naive) come from
prefixes of ONE run per problem with the largest budget (max-budget samples, each judged),
using the same plan as the strategy itself (best_of_n.select_prefix); revisions, beam and
lookahead search are run once per budget. Prints a table, writes
benchmarks/results/math_scaling.json and a PNG plot next to it.

    .venv/bin/python benchmarks/math_scaling.py --limit 50 --llm-url http://127.0.0.1:8000
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from worldplan.agent.math.solvers import SOLVERS
from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.best_of_n import best_of_n, select_prefix
from worldplan.envs.math.data import MathProblem, load_problems
from worldplan.envs.math.grader import Grader
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.connect import connect
from worldplan.worldmodel.math.verifier import GenerativeVerifier

RESULTS = Path(__file__).resolve().parent / "results"
PREFIX_SELECTIONS = {"best_of_n": "weighted", "majority": "majority",
                     "best_of_n_naive": "naive"}
SEARCHES = ("revisions", "beam", "lookahead")
KNOWN = (*PREFIX_SELECTIONS, *SEARCHES)  # the fixed-budget strategies this benchmark compares


async def _problem_rows(p: MathProblem, client: LLMClient, budgets: list[int],
                        strategies: list[str], settings: dict[str, Any],
                        grader: Grader, sem: asyncio.Semaphore) -> list[dict[str, Any]]:
    verifier = GenerativeVerifier(client)

    def ctx(budget: int, seed_offset: int) -> SearchContext:
        return SearchContext(client, verifier, Budget(max_generations=budget),
                             seed=settings["seed"] * 1000 + seed_offset,
                             max_tokens=settings["max_tokens"],
                             step_max_tokens=settings["step_max_tokens"])

    async def graded(answer: str | None) -> bool:
        return (await asyncio.to_thread(grader.grade, answer, p.answer)).correct

    rows: list[dict[str, Any]] = []
    top = max(budgets)
    if any(s in PREFIX_SELECTIONS for s in strategies):
        async with sem:  # one max-N run, every sample judged (free, as in the paper)
            r = await best_of_n(p.problem, ctx(top, 0), n=top, selection="weighted")
        for name in (s for s in strategies if s in PREFIX_SELECTIONS):
            sel = PREFIX_SELECTIONS[name]
            for b in budgets:
                node = select_prefix(r.candidates, b, selection=sel)
                rows.append({"uid": p.uid, "level": p.level, "strategy": name, "budget": b,
                             "answer": node.answer if node else None,
                             "correct": await graded(node.answer if node else None)})

    async def search(name: str, b: int) -> dict[str, Any]:
        async with sem:
            c = ctx(b, 1 + b)
            res = await SOLVERS[name](p.problem, c)
        return {"uid": p.uid, "level": p.level, "strategy": name, "budget": b,
                "answer": res.answer, "correct": await graded(res.answer),
                "generations": res.total.generations,
                "tokens": res.total.tokens}

    rows += await asyncio.gather(*[search(s, b) for s in strategies if s in SEARCHES
                                   for b in budgets])
    return rows


def aggregate_rows(rows: list[dict[str, Any]], strategies: list[str],
                   budgets: list[int]) -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for s in strategies:
        out[s] = {}
        for b in budgets:
            sel = [r for r in rows if r["strategy"] == s and r["budget"] == b]
            out[s][str(b)] = {"n": len(sel), "correct": sum(r["correct"] for r in sel),
                              "accuracy": sum(r["correct"] for r in sel) / len(sel) if sel
                              else 0.0}
    return out


def plot(results: dict[str, dict[str, dict[str, float]]], budgets: list[int],
         path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for s, per in results.items():
        ax.plot(budgets, [per[str(b)]["accuracy"] for b in budgets], marker="o", label=s)
    ax.set_xscale("log", base=2)
    ax.set_xticks(budgets, [str(b) for b in budgets])
    ax.set_xlabel("budget (generations per problem)")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(limit: int = typer.Option(10, help="Problems in the slice."),
         offset: int = typer.Option(0, help="First problem of the slice."),
         seed: int = typer.Option(0, help="Sampling seed."),
         budgets: str = typer.Option("1,2,4,8,16", help="Budgets in generations."),
         strategies: str = typer.Option(",".join(KNOWN), help="Strategies to compare."),
         max_tokens: int = typer.Option(512, help="Max tokens per full solution."),
         step_max_tokens: int = typer.Option(160, help="Max tokens per step."),
         concurrency: int = typer.Option(4, help="Strategy runs in flight at once."),
         llm_url: list[str] = typer.Option([], help="Model server URL(s)."),
         out: Path = typer.Option(RESULTS / "math_scaling.json", help="JSON output path.")
         ) -> None:
    """Accuracy vs budget for each strategy on MATH-500[offset:offset+limit]."""
    budget_list = sorted(int(b) for b in budgets.split(","))
    names = [s.strip() for s in strategies.split(",") if s.strip()]
    unknown = [s for s in names if s not in KNOWN or s not in SOLVERS]
    if unknown:
        raise typer.BadParameter(f"strategies {unknown} are not compared here: {', '.join(KNOWN)}")
    problems = load_problems("math500", offset=offset, limit=limit)
    client = connect(llm_url or None)
    settings = {"seed": seed, "max_tokens": max_tokens, "step_max_tokens": step_max_tokens}
    t0 = time.perf_counter()

    async def run() -> list[dict[str, Any]]:
        sem = asyncio.Semaphore(concurrency)
        async with client:
            per = await asyncio.gather(*[_problem_rows(p, client, budget_list, names, settings,
                                                       grader, sem) for p in problems])
        return [r for rows in per for r in rows]

    with Grader() as grader:
        rows = asyncio.run(run())
    results = aggregate_rows(rows, names, budget_list)
    table = Table(title=f"MATH-500[{offset}:{offset + limit}] accuracy vs budget "
                        f"({client.model})")
    table.add_column("strategy")
    for b in budget_list:
        table.add_column(str(b), justify="right")
    for s in names:
        table.add_row(s, *[f"{results[s][str(b)]['accuracy']:.3f}" for b in budget_list])
    Console().print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"model": client.model, "dataset": "math500", "offset": offset, "limit": limit,
               "seed": seed, "budgets": budget_list, "unit": "generations",
               "max_tokens": max_tokens, "step_max_tokens": step_max_tokens,
               "wall_time_s": time.perf_counter() - t0, "results": results, "rows": rows}
    out.write_text(json.dumps(payload, indent=2))
    png = out.with_suffix(".png")
    plot(results, budget_list, png, f"MATH-500 slice, {client.model}")
    print(f"wrote {out} and {png}")


if __name__ == "__main__":
    typer.run(main)
