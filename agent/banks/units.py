"""What one unit of a bank holds, and the pure helpers that build its records.

A problem's units (agent.runs.bank_build makes them; agent.banks.bank_file stores them):
- "samples": K full solutions from ONE n=K request with token logprobs, each graded and
  judged by the verifier after every step (a generative verifier's P(yes) for each prefix of
  blank-line steps, the last one asked as a finished solution), with log-probability
  statistics for a learned verifier: `{"samples": [candidate...], "seed"}`;
- "chain:j" (j < P): revision chain j, whose attempt 1 is sample j and attempts 2..L each
  see up to `history` earlier attempts of the chain with their scores (the prompts of
  agent.strategies.revisions): `{"first": j, "attempts": [candidate...]}` (attempts 2..L);
- "beam:N", "dvts:N": the live strategy run once with a budget of N generation-equivalents:
  `{"strategy", "budget", "answer", "correct", "candidates": [{"answer", "score",
  "correct"}], "stop_reason"}`.
A candidate is {"text", "answer", "correct", "finish", "tokens", "scores" (per step),
"score" (the last step's), "lp" (log-probability statistics, samples only)}. Every unit has
"counts": {"solver": Counts, "verifier": Counts} in the three units of
worldmodel.llm.usage (generation-equivalents, tokens, FLOPs).
Not handled: running anything (agent.runs.bank_build), evaluating (agent.banks.evaluate).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SAMPLES = "samples"


def chain_unit(j: int) -> str:
    return f"chain:{j}"


def search_unit(strategy: str, budget: int) -> str:
    return f"{strategy}:{budget}"


def parse_searches(spec: str) -> list[tuple[str, int]]:
    """"beam:1,2,4,8;dvts:4,8" -> [("beam", 1), ..., ("dvts", 8)] (empty spec: none)."""
    out: list[tuple[str, int]] = []
    for part in (p.strip() for p in spec.split(";")):
        if not part:
            continue
        name, _, budgets = part.partition(":")
        try:
            ns = [int(b) for b in budgets.split(",") if b.strip()]
        except ValueError as e:
            raise ValueError(f"{part!r}: use 'strategy:1,2,4' with integer budgets") from e
        if name.strip() not in ("beam", "dvts") or not ns or min(ns) < 1:
            raise ValueError(f"{part!r}: use beam or dvts with positive integer budgets")
        out += [(name.strip(), n) for n in sorted(set(ns))]
    return out


def candidate(text: str, answer: str | None, correct: bool, *, finish: str | None,
              tokens: int, scores: Sequence[float | None],
              lp: dict[str, float] | None = None) -> dict[str, Any]:
    last = scores[-1] if scores else None
    rec: dict[str, Any] = {"text": text, "answer": answer, "correct": bool(correct),
                           "finish": finish, "tokens": int(tokens),
                           "scores": [None if s is None else round(float(s), 6)
                                      for s in scores],
                           "score": None if last is None else round(float(last), 6)}
    if lp is not None:
        rec["lp"] = {k: round(v, 5) for k, v in lp.items()}
    return rec
