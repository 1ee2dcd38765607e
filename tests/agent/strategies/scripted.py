"""Helpers of the strategy tests: a context on a scripted model, and scripted answers
(`generic_solve`: a three-step solution, continued from wherever a beam is)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tests.fakes.math_llm import ScriptedLLM
from worldplan.agent.strategies.base import SearchContext
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.math.verifier import GenerativeVerifier


def make_ctx(fake: ScriptedLLM, budget: Budget, **kw: Any) -> SearchContext:
    client = LLMClient("http://fake", transport=fake.transport(), retries=0)
    return SearchContext(client, GenerativeVerifier(client), budget, seed=0, **kw)


def in_order(texts: list[str]) -> Any:
    it: Iterator[str] = iter(texts)
    return lambda _prompt, _body: next(it)


def boxed_score(table: dict[str, float]) -> Any:
    """P(yes) from the last boxed answer in the solution being judged."""
    def judge(prompt: str) -> float:
        m = re.findall(r"\\boxed\{(\w+)\}", prompt)
        return table[m[-1]] if m else 0.5
    return judge


def solver_requests(fake: ScriptedLLM) -> list[dict[str, Any]]:
    """The requests that sampled solutions or steps (not judgements)."""
    return [b for b in fake.requests
            if b.get("max_tokens") != 1 and b.get("task") != "token_classify"]


def generic_solve(_prompt: str, body: dict[str, Any]) -> str:
    last = body["messages"][-1]
    done = last["content"].count("\n\n") if last["role"] == "assistant" else 0
    steps = ["Let x be the number we want", "Then x plus x is four so",
             f"x is \\boxed{{{2 + body.get('seed', 0) % 2}}}"]
    return "\n\n".join(steps[done:])
