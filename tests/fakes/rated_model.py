"""A scripted model whose success rate per difficulty and strategy is known in advance.

Problems read "Problem P<i> (d=<d>): ..."; the reference answer of P<i> is str(100 + i).
- plain solver requests (best-of-N, the probe, the oracle samples): the t-th such sample of
  a problem is correct iff (7 t mod 10) < 10 * PLAIN[d], so every 10 consecutive samples
  hold exactly 10 * PLAIN[d] correct ones (pass@1 is exact with K = 10);
- beam-search step requests (they carry the stop string "\\n\\n"): the same rule with
  BEAM[d], and the step is a finished, boxed solution;
- wrong answers are all the same ("-1"), so a vote is won by the more frequent answer;
- the verifier (max_tokens 1 with logprobs) is uninformative: P(Yes) = 0.5 always.
Usage: completion tokens = whitespace chunks of the text (max_tokens cuts it), prompts cost
20; every served usage is kept in `served` per problem. Served by the one scripted server
(tests.fakes.openai_server) as an httpx transport; control-flow tests only.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.openai_server import Answer, OpenAIServer, Reply, Sample, Token, yes_no

PLAIN = {1: 1.0, 2: 0.9, 3: 0.5, 4: 0.3, 5: 0.1}
BEAM = {1: 0.0, 2: 0.0, 3: 1.0, 4: 1.0, 5: 1.0}
KNOWN_BEST = {1: "best_of_n", 2: "best_of_n", 3: "beam", 4: "beam", 5: "beam"}
PROBLEM = re.compile(r"Problem P(\d+) \(d=(\d)\)")
CHUNK = re.compile(r"\s*\S+")
PROMPT_TOKENS = 20  # every prompt


def write_problems(path: Path, per_difficulty: int = 2) -> Path:
    rows = []
    i = 0
    for d in range(1, 6):
        for _ in range(per_difficulty):
            rows.append({"problem": f"Problem P{i} (d={d}): find the number.",
                         "answer": str(100 + i), "level": d, "subject": "Scripted",
                         "unique_id": f"scripted/P{i}"})
            i += 1
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@dataclass
class ScriptedModel:
    counters: dict[tuple[int, str], int] = field(default_factory=lambda: defaultdict(int))
    served: dict[int, list[dict[str, int]]] = field(default_factory=lambda: defaultdict(list))
    server: OpenAIServer = field(init=False)

    def __post_init__(self) -> None:
        self.server = OpenAIServer(self.answer)

    def transport(self) -> httpx.MockTransport:
        return self.server.transport()

    def answer(self, body: dict[str, Any]) -> Answer:
        prompt = "\n".join(m["content"] for m in body["messages"])
        m = PROBLEM.search(prompt)
        assert m, f"scripted model: no problem in {prompt[:80]!r}"
        i, d = int(m.group(1)), int(m.group(2))
        if body.get("max_tokens") == 1 and body.get("logprobs"):
            reply = yes_no(0.5, PROMPT_TOKENS)
        else:
            mode = "beam" if "\n\n" in (body.get("stop") or []) else "plain"
            rate = (BEAM if mode == "beam" else PLAIN)[d]
            samples = []
            for _ in range(int(body.get("n", 1))):
                t = self.counters[(i, mode)]
                self.counters[(i, mode)] += 1
                answer = str(100 + i) if (7 * t) % 10 < round(10 * rate) else "-1"
                text = f"We compute it step by step. The answer is \\boxed{{{answer}}}"
                chunks = CHUNK.findall(text)[: int(body.get("max_tokens", 16))]
                logprobs = tuple(Token(ch, -0.2, ((ch, -0.2), ("x", -1.8))) for ch in chunks)
                samples.append(Sample("".join(chunks), "stop", len(chunks), logprobs))
            reply = Reply(samples, PROMPT_TOKENS)
        self.served[i].append(reply.usage())
        return reply
