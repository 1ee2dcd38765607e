"""A small real runner (kind "toy") for the trace tests: best-of-n with a P("Yes") verifier.

For each problem: sample n answers (temperature 0.9, no seed: only a cache can replay it),
score each with the generative verifier (one token, top logprobs), decide (difficulty from
the best score, budget left, why), pick the best, and store the episode, its step with the
controller decision, the candidates as search nodes, and every LLM call. Its rerun function
re-invokes `run_toy` with the stored config and the client it is given.
"""

from __future__ import annotations

import asyncio
from typing import Any

from worldplan.agent.runs.rerun import RerunContext
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.yesno import p_yes

PROBLEMS = [
    {"id": "add", "problem": "What is 2+3? Reply with the number only.", "answer": "5",
     "level": 1},
    {"id": "mul", "problem": "What is 4*3? Reply with the number only.", "answer": "12",
     "level": 2},
]


async def _episode(store: TraceStore, client: LLMClient, run_id: int, p: dict[str, Any],
                   n: int, budget_gen: int, max_tokens: int) -> None:
    budget = Budget(max_generations=budget_gen)
    with store.episode_scope(run_id, env="toy", task_id=p["id"], seed=0,
                             reference=p["answer"], strategy="best-of-n",
                             info={"level": p["level"]}) as ep:
        msgs = [{"role": "user", "content": p["problem"]}]
        gen = await client.chat(msgs, n=n, max_tokens=max_tokens, temperature=0.9,
                                budget=budget, tags={"step": 0})
        texts = [t.strip() for t in gen.texts]
        verdicts = await asyncio.gather(*(p_yes(client, [
            {"role": "user", "content": f"{p['problem']}\nProposed answer: {t}\n"
                                        "Is the answer correct? Answer Yes or No."}],
            budget=budget, top_logprobs=5, tags={"step": 0}) for t in texts))
        scores = [v.p_yes for v in verdicts]
        best = max(range(len(texts)), key=lambda k: (scores[k], -k))
        decision = {"difficulty": round(1.0 - scores[best], 6),
                    "budget_left": budget.generations_left, "strategy": "best-of-n",
                    "why": f"best of {n} by verifier score", "decided_at_s": 0.0}
        store.add_nodes(ep, [{"key": f"c{k}", "kind": "proposal", "text": t, "answer": t,
                              "score": scores[k], "chosen": k == best}
                             for k, t in enumerate(texts)])
        store.add_step(ep, index=0, observation=p["problem"], action=texts[best],
                       decision=decision, terminated=True)
        ok = p["answer"] in texts[best]
        store.finish_episode(ep, answer=texts[best], success=ok, reward=float(ok),
                             difficulty=decision["difficulty"], difficulty_source="predicted")


def run_toy(store: TraceStore, client: LLMClient, config: dict[str, Any], name: str = "toy"
            ) -> int:
    """Run the toy command with `config` {"n", "budget", "max_tokens", "problems"}."""
    with store.run_scope(name=name, kind="toy", env="toy", strategy="best-of-n",
                         model=client.model or "", llm_urls=client.urls, config=config
                         ) as run_id:
        client.observers.append(store.observer(run_id))

        async def main() -> None:
            for p in config["problems"]:
                await _episode(store, client, run_id, p, config["n"], config["budget"],
                               config["max_tokens"])
            await client.aclose()

        asyncio.run(main())
    return run_id


def rerun(ctx: RerunContext) -> int:
    return run_toy(ctx.store, ctx.client, ctx.run["config"], name=ctx.name)
