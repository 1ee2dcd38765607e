"""Deterministic scripted models for the fault tests: every answer is a function of the
request alone (prompt, seed, sample index), so a run killed and resumed any number of times
must end exactly as an uninterrupted one (control flow only, never capability).

`math_respond(body)`: solver requests get a three-step solution (steps split by blank
lines, so beam search continues it) whose boxed answer is picked by a hash of the problem,
the seed and the sample index; the probe's samples (logprobs asked) carry token logprobs;
verifier requests (max_tokens 1 with logprobs) get P(Yes) from a hash of the prompt.
`write_problems(path, n)`: n problems whose reference answers the model hits about half of
the time. The web roles use tests.fakes.web.ScriptedWebLLM, deterministic already.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tests.fakes.math_llm import cut
from tests.fakes.openai_server import Answer, Reply, Sample, Token, yes_no

ANSWERS = ("2", "3", "5", "7")


def digest(*parts: object) -> int:
    return int(hashlib.sha256(repr(parts).encode()).hexdigest()[:12], 16)


def write_problems(path: Path, n: int) -> Path:
    rows = [{"problem": f"Problem {i}: which number is x?", "answer": ANSWERS[i % 2],
             "level": i % 5 + 1, "subject": "Scripted", "unique_id": f"faults/{i}"}
            for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _solution(body: dict[str, Any], k: int) -> str:
    messages = body["messages"]
    problem = next(m["content"] for m in messages if m["role"] == "user")
    last = messages[-1]
    done = last["content"].count("\n\n") if last["role"] == "assistant" else 0
    answer = ANSWERS[digest(problem, body.get("seed"), k) % len(ANSWERS)]
    steps = ["Let x be the number we want", "Then we try the small primes",
             f"x is \\boxed{{{answer}}}"]
    return "\n\n".join(steps[done:])


def math_respond(body: dict[str, Any]) -> Answer:
    prompt = "\n".join(m["content"] for m in body["messages"])
    prompt_tokens = len(prompt.split())
    if body.get("logprobs") and body.get("max_tokens") == 1:
        return yes_no(0.05 + 0.9 * (digest(prompt) % 1000) / 1000, prompt_tokens)
    samples = []
    for k in range(int(body.get("n", 1))):
        s = cut(_solution(body, k), body)
        if body.get("logprobs"):
            chunks = s.text.split(" ")
            s = Sample(s.text, s.finish_reason, s.tokens, tuple(
                Token(c, -0.1 - (digest(c, k) % 7) / 10, ((c, -0.1), ("y", -2.3)))
                for c in chunks))
        samples.append(s)
    return Reply(samples, prompt_tokens)
