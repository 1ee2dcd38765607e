"""Compute-optimal vs fixed strategies on a MATH-500 slice not used for fitting the policy.

For each problem and budget (generation-equivalents, the probe included; the verifier free,
as in the paper):
- compute-optimal with oracle difficulty (pass@1 measured from --oracle-samples graded
  samples of this problem, binned with the policy's cuts) and with predicted difficulty
  (the policy's learned predictor if it has one, else the fixed rule on the probe);
- best-of-N weighted, from prefixes of ONE run of up to `--bon-factor` x the largest budget
  (agent.strategies.best_of_n.select_prefix), so its curve reaches past the largest budget;
- beam search and sequential revisions, run once per budget.
Efficiency ratio at each budget: the tokens (uncached prompt + completion, verifier
included) per problem best-of-N needs to reach compute-optimal's accuracy (its first prefix
budget that does), divided by compute-optimal's own tokens; "> x" when best-of-N never gets
there within its curve; "n/a" at accuracy 0. Accuracies carry a 95% bootstrap interval.
Prints a table, writes benchmarks/results/compute_optimal[-NAME].json and a PNG beside it.

    .venv/bin/python benchmarks/compute_optimal.py --offset 100 --limit 8 --budgets 2,4,8 \\
        --policy agent/policies/default.json --llm-url http://127.0.0.1:8000
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

from worldplan.agent.control.difficulty import text_key
from worldplan.agent.control.policy import Policy, load_policy
from worldplan.agent.math.solvers import SOLVERS
from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.best_of_n import best_of_n, plan_best_of_n, select_prefix
from worldplan.envs.math.answer import extract_answer
from worldplan.envs.math.data import MathProblem, load_problems
from worldplan.envs.math.grader import Grader
from worldplan.traces.intervals import mean_ci
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.connect import connect
from worldplan.worldmodel.math.prompts import solver_messages
from worldplan.worldmodel.math.verifier import GenerativeVerifier

RESULTS = Path(__file__).resolve().parent / "results"
METHODS = ("co_oracle", "co_predicted", "best_of_n", "beam", "revisions")


async def problem_rows(p: MathProblem, client: LLMClient, policy: Policy, budgets: list[int],
                       s: dict[str, Any], grader: Grader) -> list[dict[str, Any]]:
    verifier = GenerativeVerifier(client)

    def ctx(budget: int | None, offset: int) -> SearchContext:
        return SearchContext(client, verifier, Budget(max_generations=budget),
                             seed=s["seed"] * 1000 + offset, max_tokens=s["max_tokens"],
                             step_max_tokens=s["step_max_tokens"])

    async def correct(answer: str | None) -> bool:
        return (await asyncio.to_thread(grader.grade, answer, p.answer)).correct

    gen = await client.chat(solver_messages(p.problem), role="oracle", n=s["oracle_samples"],
                            max_tokens=s["max_tokens"], temperature=0.8, seed=s["seed"])
    oks = [await correct(extract_answer(c.text, bare=False)) for c in gen.choices]
    rate = sum(oks) / len(oks)
    base = {"uid": p.uid, "level": p.level, "pass_at_1": rate}
    bon_top = s["bon_factor"] * max(budgets)

    async def bon_rows() -> list[dict[str, Any]]:
        # one max-N run (the verifier free, as in the paper): its prefixes are best-of-b
        r = await best_of_n(p.problem, ctx(bon_top, 0), n=bon_top, selection="weighted")
        out, b = [], 1
        while b <= bon_top:
            node = select_prefix(r.candidates, b, selection="weighted")
            n, _ = plan_best_of_n(b, selection="weighted", judge_cost=0)
            # the prefix's completions, the one prompt, and the judgements of the prefix
            per_judgement = r.verifier.tokens / max(1, len(r.candidates))
            tokens = (sum(c.tokens for c in r.candidates[:n]) + r.solver.prompt_tokens
                      - r.solver.cached_tokens + per_judgement * n)
            out.append({**base, "method": "best_of_n", "budget": b,
                        "answer": node and node.answer,
                        "correct": await correct(node.answer if node else None),
                        "tokens": tokens})
            b *= 2
        return out

    async def method_row(budget: int, method: str) -> list[dict[str, Any]]:
        c = ctx(budget, budget * 10 + METHODS.index(method))
        if method.startswith("co_"):
            kw: dict[str, Any] = {"policy": policy}
            if method == "co_oracle":
                kw |= {"difficulty": "oracle", "oracle": {text_key(p.problem): rate}}
            res = await SOLVERS["compute-optimal"](p.problem, c, **kw)
        else:
            res = await SOLVERS[method](p.problem, c)
        extra = {}
        if method.startswith("co_"):
            extra = {"chosen": res.params["decision"]["strategy"],
                     "bin": res.params["decision"]["bin"]}
        return [{**base, "method": method, "budget": budget, "answer": res.answer,
                 "correct": await correct(res.answer), "generations": res.total.generations,
                 "tokens": res.total.tokens, **extra}]

    # every method and budget at once: each has its own budget and seed; the server batches
    parts = await asyncio.gather(bon_rows(), *[
        method_row(budget, method) for budget in budgets
        for method in ("beam", "revisions", "co_oracle", "co_predicted")])
    rows = [row for part in parts for row in part]
    return rows


def aggregate(rows: list[dict[str, Any]]) -> dict[str, dict[int, dict[str, float]]]:
    out: dict[str, dict[int, dict[str, float]]] = {}
    for m in METHODS:
        for b in sorted({r["budget"] for r in rows if r["method"] == m}):
            sel = [r for r in rows if r["method"] == m and r["budget"] == b]
            ci = mean_ci([float(r["correct"]) for r in sel])
            out.setdefault(m, {})[b] = {
                "accuracy": ci.point, "accuracy_low": ci.low, "accuracy_high": ci.high,
                "tokens": sum(r["tokens"] for r in sel) / len(sel), "n": len(sel)}
    return out


def efficiency(agg: dict[str, dict[int, dict[str, float]]], method: str) -> dict[int, str]:
    """Tokens best-of-N needs to match `method`'s accuracy, over `method`'s tokens."""
    bon = sorted(agg["best_of_n"].items())
    out = {}
    for b, r in agg[method].items():
        hit = next((v for _, v in bon if v["accuracy"] >= r["accuracy"]), None)
        if r["tokens"] <= 0 or r["accuracy"] <= 0:
            out[b] = "n/a"  # nothing to match: any budget reaches accuracy 0
        elif hit is None:
            out[b] = f"> {bon[-1][1]['tokens'] / r['tokens']:.2f}"
        else:
            out[b] = f"{hit['tokens'] / r['tokens']:.2f}"
    return out


def plot(agg: dict[str, dict[int, dict[str, float]]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for m, per in agg.items():
        bs = sorted(per)
        ax1.plot(bs, [per[b]["accuracy"] for b in bs], marker="o", label=m)
        ax2.plot([per[b]["tokens"] for b in bs], [per[b]["accuracy"] for b in bs], marker="o",
                 label=m)
    ax1.set(xscale="log", xlabel="budget (generations per problem)", ylabel="accuracy")
    ax2.set(xscale="log", xlabel="tokens per problem (uncached prompt + completion)",
            ylabel="accuracy")
    ax1.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(dataset: str = typer.Option("math500", help="Evaluation set (not used for fitting)."),
         offset: int = typer.Option(100, help="First problem of the slice."),
         limit: int = typer.Option(8, help="Problems in the slice."),
         budgets: str = typer.Option("2,4,8", help="Budgets in generations per problem."),
         policy: str = typer.Option("", help="Policy JSON (default: the bundled one)."),
         oracle_samples: int = typer.Option(4, help="Samples per problem for oracle pass@1."),
         bon_factor: int = typer.Option(2, help="Best-of-N curve up to this x max budget."),
         seed: int = typer.Option(0), max_tokens: int = typer.Option(512),
         step_max_tokens: int = typer.Option(160),
         concurrency: int = typer.Option(2, help="Problems at once."),
         llm_url: list[str] = typer.Option([], help="Model server URL."),
         name: str = typer.Option("", help="Suffix of the results file.")) -> None:
    bs = sorted({int(b) for b in budgets.split(",")})
    pol = load_policy(policy or None)
    problems = load_problems(dataset, offset=offset, limit=limit)
    client = connect(llm_url or None)
    settings = {"seed": seed, "max_tokens": max_tokens, "step_max_tokens": step_max_tokens,
                "oracle_samples": oracle_samples, "bon_factor": bon_factor}
    t0 = time.perf_counter()

    async def run() -> list[dict[str, Any]]:
        sem = asyncio.Semaphore(concurrency)

        async def one(p: MathProblem) -> list[dict[str, Any]]:
            async with sem:
                return await problem_rows(p, client, pol, bs, settings, grader)

        async with client:
            return [r for rows in await asyncio.gather(*map(one, problems)) for r in rows]

    with Grader() as grader:
        rows = asyncio.run(run())
    agg = aggregate(rows)
    eff = {m: efficiency(agg, m) for m in ("co_oracle", "co_predicted")}
    model = client.model or ""
    title = (f"{dataset}[{offset}:{offset + limit}] seed {seed}, model {model}, policy "
             f"{pol.metadata.get('fitted_on', pol.source)}")
    table = Table(title=title)
    for col in ("method", *[f"B={b}" for b in bs]):
        table.add_column(col)
    for m in METHODS:
        table.add_row(m, *[f"{agg[m][b]['accuracy']:.2f} [{agg[m][b]['accuracy_low']:.2f}, "
                           f"{agg[m][b]['accuracy_high']:.2f}] ({agg[m][b]['tokens']:.0f} tok)"
                           if b in agg.get(m, {}) else "" for b in bs])
    for m, per in eff.items():
        table.add_row(f"efficiency {m}", *[per.get(b, "") for b in bs])
    Console().print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"compute_optimal{'-' + name if name else ''}.json"
    out.write_text(json.dumps({
        "dataset": dataset, "offset": offset, "limit": limit, "budgets": bs, "seed": seed,
        "model": model, "policy": pol.source, "policy_fitted_on": pol.metadata.get("fitted_on"),
        "settings": settings, "wall_s": round(time.perf_counter() - t0, 1),
        "results": {m: {str(b): v for b, v in per.items()} for m, per in agg.items()},
        "efficiency_tokens_ratio": {m: {str(b): v for b, v in per.items()}
                                    for m, per in eff.items()},
        "rows": rows}, indent=2))
    plot(agg, out.with_suffix(".png"), title)
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    typer.run(main)
