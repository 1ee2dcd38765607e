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

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from worldplan.agent.control.difficulty import token_entropy
from worldplan.worldmodel.llm.generation import TokenLogprob

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


def logprob_stats(tokens: Sequence[TokenLogprob] | None, text: str) -> dict[str, float]:
    """Statistics of a sample's token log-probabilities (nats): mean, minimum, 10th
    percentile, mean token entropy (from the top logprobs), and the mean logprob and
    entropy of the final answer's tokens (those from the last "\\boxed" on; the whole
    sample's if there is none). Empty when the server gave no logprobs."""
    if not tokens:
        return {}
    lps = np.array([t.logprob if math.isfinite(t.logprob) else -100.0 for t in tokens])
    ents = np.array([token_entropy(t.top) for t in tokens])
    start, ans = text.rfind("\\boxed"), []
    if start >= 0:
        pos = 0
        for i, t in enumerate(tokens):
            if pos + len(t.token) > start:
                ans.append(i)
            pos += len(t.token)
    idx = ans or list(range(len(tokens)))
    return {"mean": float(lps.mean()), "min": float(lps.min()),
            "p10": float(np.quantile(lps, 0.1)), "entropy": float(ents.mean()),
            "answer_mean": float(lps[idx].mean()), "answer_entropy": float(ents[idx].mean()),
            "n": float(len(tokens))}


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
