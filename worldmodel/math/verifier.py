"""Verifiers of math solutions: a generative verifier (P("Yes") from the served model), an
adapter for a process reward model (PRM) served by vLLM's pooling API, and step-score
aggregation.

Both verifiers implement `Verifier.judge(problem, steps, complete=..., budget=...)` and
return a `Judgement`: per-step scores in [0, 1] plus what the judgement cost.
- `GenerativeVerifier` asks the served model one yes/no question about the (partial)
  solution and returns ONE score, for the last step given. It costs one generation of one
  token (`generations_per_call = 1`) and IS drawn from the strategy's budget: verification
  is compute the strategy chose to spend, and results report it separately.
- `PRMVerifier` POSTs to `{url}/pooling` (vLLM >= 0.10, a PRM such as Qwen2.5-Math-PRM-7B
  served with `--runner pooling`): the assistant message is the steps, each followed by the
  step token (`<extra_0>`), task `token_classify`; the server answers one [P(bad), P(good)]
  row per step token; the score of step i is row i's `positive_index` entry. It generates
  nothing, so it draws nothing from a generation/token budget (`generations_per_call = 0`);
  its prompt tokens are reported, and observers get a CallRecord with n = 0.
- `aggregate(scores, how)` reduces step scores to one: last / min / prod / mean (pure).

Not handled: outcome reward models served by /classify, batching several solutions per
PRM request.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from worldplan.worldmodel.llm.accounting import Budget, Usage
from worldplan.worldmodel.llm.client import LLMClient, Message
from worldplan.worldmodel.llm.errors import (
    ContextLengthExceeded,
    MalformedResponse,
    RequestRejected,
    ServerError,
    ServerUnreachable,
)
from worldplan.worldmodel.llm.generation import CallRecord, Generation, Observer
from worldplan.worldmodel.llm.yesno import p_yes
from worldplan.worldmodel.math.prompts import verifier_messages

AGGREGATIONS: tuple[str, ...] = ("last", "min", "prod", "mean")


def aggregate(scores: Sequence[float], how: str = "last") -> float | None:
    """One score from step scores: the last, the minimum, the product or the mean.

    None for no scores (an unverified solution).
    """
    if not scores:
        return None
    if how == "last":
        return float(scores[-1])
    if how == "min":
        return float(min(scores))
    if how == "prod":
        return float(math.prod(scores))
    if how == "mean":
        return float(sum(scores) / len(scores))
    raise ValueError(f"unknown aggregation {how!r}: use one of {', '.join(AGGREGATIONS)}")


@dataclass(frozen=True)
class Judgement:
    """Scores of a (partial) solution's steps, and what judging cost."""

    scores: list[float]  # one per judged step, in [0, 1]; [] when the judge could not answer
    usage: Usage  # tokens of the judging call(s)
    generations: int  # generations drawn from the budget
    calls: int  # requests answered (failed ones are not counted)
    flops: float | None = None
    detail: str = ""  # why scores is empty, or the yes/no mass


class Verifier(Protocol):
    generations_per_call: int  # what one judge() draws from a generation budget

    async def judge(self, problem: str, steps: Sequence[str], *, complete: bool,
                    budget: Budget | None = None,
                    tags: dict[str, Any] | None = None) -> Judgement: ...


class GenerativeVerifier:
    """P("Yes") that a (partial) solution is correct, from the served chat model."""

    generations_per_call = 1

    def __init__(self, client: LLMClient, *, top_logprobs: int = 20) -> None:
        self.client = client
        self.top_logprobs = top_logprobs

    async def judge(self, problem: str, steps: Sequence[str], *, complete: bool,
                    budget: Budget | None = None,
                    tags: dict[str, Any] | None = None) -> Judgement:
        messages = verifier_messages(problem, steps, complete=complete)
        try:
            yn = await p_yes(self.client, messages, top_logprobs=self.top_logprobs,
                             budget=budget, tags=tags)
        except ContextLengthExceeded as e:  # nothing was generated, nothing charged
            return Judgement([], Usage(), 0, 0, None, f"not judged: {e}")
        gen = yn.generation
        return Judgement([yn.p_yes], gen.usage, len(gen.choices), 1, gen.flops,
                         f"yes/no mass {yn.mass:.3f}")


class PRMVerifier:
    """A process reward model behind vLLM's `/pooling` endpoint (task token_classify)."""

    generations_per_call = 0

    def __init__(self, url: str, model: str | None = None, *, step_token: str = "<extra_0>",
                 positive_index: int = 1, system: str = "Please reason step by step, and put "
                 "your final answer within \\boxed{}.", timeout_s: float = 120.0,
                 transport: httpx.AsyncBaseTransport | None = None,
                 observers: Sequence[Observer] = ()) -> None:
        self.url = url.rstrip("/").removesuffix("/v1")
        self.model = model
        self.step_token = step_token
        self.positive_index = positive_index
        self.system = system
        self.timeout_s = timeout_s
        self.transport = transport
        self.observers = list(observers)

    def request_body(self, problem: str, steps: Sequence[str], model: str) -> dict[str, Any]:
        content = "".join(s.strip() + self.step_token for s in steps)
        messages: list[Message] = [{"role": "system", "content": self.system},
                                   {"role": "user", "content": problem},
                                   {"role": "assistant", "content": content}]
        return {"model": model, "messages": messages, "task": "token_classify",
                "add_generation_prompt": False}

    async def judge(self, problem: str, steps: Sequence[str], *, complete: bool,
                    budget: Budget | None = None,
                    tags: dict[str, Any] | None = None) -> Judgement:
        if not steps:
            return Judgement([], Usage(), 0, 0, None, "no steps to judge")
        async with httpx.AsyncClient(transport=self.transport,
                                     timeout=httpx.Timeout(self.timeout_s)) as http:
            model = self.model or await self._served_model(http)
            body = self.request_body(problem, steps, model)
            started, t0 = time.time(), time.perf_counter()
            data = await self._post(http, body)
            latency = time.perf_counter() - t0
        scores, usage = self._parse(data, n_steps=len(steps))
        gen = Generation([], usage, latency, None, model, self.url, 0)
        record = CallRecord("verifier", "pooling", self.url, model,
                            json.dumps(body["messages"], ensure_ascii=False),
                            {"n": 0, "task": "token_classify"}, gen, None, latency, started,
                            dict(tags or {}))
        for observer in self.observers:
            observer(record)
        return Judgement(scores, usage, 0, 1, None, "")

    async def _served_model(self, http: httpx.AsyncClient) -> str:
        try:
            r = await http.get(f"{self.url}/v1/models")
            r.raise_for_status()
            self.model = str(r.json()["data"][0]["id"])
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as e:
            raise ServerUnreachable(f"cannot read the PRM's model from {self.url}/v1/models: "
                                    f"{e!r}", url=self.url) from e
        return self.model

    async def _post(self, http: httpx.AsyncClient, body: dict[str, Any]) -> Any:
        try:
            r = await http.post(f"{self.url}/pooling", json=body)
        except httpx.TransportError as e:
            raise ServerUnreachable(f"cannot reach the PRM server at {self.url} "
                                    f"({type(e).__name__}: {e})", url=self.url) from e
        if r.status_code == 404:
            raise RequestRejected(f"{self.url}/pooling not found: is this a reward model served "
                                  "by vLLM with --runner pooling?", url=self.url, status=404)
        if r.status_code >= 500:
            raise ServerError(f"{self.url}/pooling answered {r.status_code}: {r.text[:300]}",
                              url=self.url, status=r.status_code)
        if r.status_code != 200:
            cls = ContextLengthExceeded if "context length" in r.text.lower() else RequestRejected
            raise cls(f"{self.url}/pooling rejected the request ({r.status_code}): "
                      f"{r.text[:300]}", url=self.url, status=r.status_code)
        try:
            return r.json()
        except ValueError as e:
            raise MalformedResponse(f"{self.url}/pooling answered 200 with a body that is not "
                                    f"JSON: {r.text[:200]!r}", url=self.url) from e

    def _parse(self, data: Any, *, n_steps: int) -> tuple[list[float], Usage]:
        try:
            rows = data["data"][0]["data"]
            scores = [float(row[self.positive_index]) if isinstance(row, list) else float(row)
                      for row in rows]
            u = data.get("usage") or {}
            usage = Usage(int(u.get("prompt_tokens", 0)), 0)
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise MalformedResponse(f"{self.url}/pooling sent a response the PRM adapter cannot "
                                    f"read ({type(e).__name__}: {e}): {str(data)[:300]}",
                                    url=self.url) from e
        if len(scores) != n_steps:
            raise MalformedResponse(
                f"{self.url}/pooling returned {len(scores)} step scores for {n_steps} steps: "
                f"is the step token {self.step_token!r} the one the PRM was trained with?",
                url=self.url)
        if any(not 0.0 <= s <= 1.0 for s in scores):
            raise MalformedResponse(f"{self.url}/pooling returned scores outside [0, 1]: "
                                    f"{scores[:8]}", url=self.url)
        return scores, usage
