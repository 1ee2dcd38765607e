"""Property tests of reading a model server's answers (worldmodel.llm.parsing, the client).

- `parse_generation` on any JSON value, and on valid responses with one part replaced by any
  JSON value: a `Generation` with n choices and non-negative token counts, or
  `MalformedResponse` naming the URL, never another exception.
- `error_message` on any error body: a string.
- the client end to end (`LLMClient.chat` over an httpx MockTransport) on any body the
  server could send with status 200: a `Generation`, or `MalformedResponse`.
All within the profile's deadline (tests.fuzzing), deeply nested JSON included.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzzing import TEST_TIMEOUT_S
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.errors import MalformedResponse
from worldplan.worldmodel.llm.generation import Generation
from worldplan.worldmodel.llm.parsing import error_message, parse_generation

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)

URL = "http://fuzz:1"
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-2, 2),
                    st.integers(10**300, 10**400), st.floats(), st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20)


def valid(endpoint: str, n: int) -> dict[str, Any]:
    """A well-formed response with n choices, logprobs and vLLM's prompt logprobs."""
    if endpoint == "chat":
        choices: list[dict[str, Any]] = [{
            "index": k, "finish_reason": "stop", "message": {"content": f"text {k}"},
            "logprobs": {"content": [{"token": "Yes", "logprob": -0.1,
                                      "top_logprobs": [{"token": "No", "logprob": -2.3}]}]}}
            for k in range(n)]
    else:
        choices = [{"index": k, "finish_reason": "length", "text": f"t{k}",
                    "logprobs": {"tokens": ["a"], "token_logprobs": [-0.5],
                                 "top_logprobs": [{"a": -0.5}]}} for k in range(n)]
    return {"choices": choices, "usage": {"prompt_tokens": 5, "completion_tokens": 3 * n,
                                          "prompt_tokens_details": {"cached_tokens": 2}},
            "prompt_logprobs": [None, {"7": {"logprob": -1.0, "rank": 1,
                                             "decoded_token": "x"}}]}


def _parts(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside `data` (dict keys and list indexes)."""
    out = [path]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _parts(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _parts(v, (*path, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, int, Any]:
    """A valid response with the value at one of its paths replaced by any JSON value."""
    endpoint = draw(st.sampled_from(["chat", "completions"]))
    n = draw(st.integers(1, 3))
    data = valid(endpoint, n)
    path = draw(st.sampled_from(_parts(data)[1:]))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = draw(json_values)
    return endpoint, n, data


def _parse(endpoint: str, n: int, data: Any) -> None:
    try:
        gen = parse_generation(endpoint, data, url=URL, model="m", n=n, max_tokens=16,
                               latency_s=0.1, n_params=1000)
    except MalformedResponse as e:
        assert e.url == URL
        return
    assert isinstance(gen, Generation) and len(gen.choices) == n
    assert gen.usage.prompt_tokens >= 0 and gen.usage.completion_tokens >= 0
    assert all(isinstance(c.text, str) for c in gen.choices)
    for c in gen.choices:
        assert all(isinstance(t.logprob, float) for t in c.logprobs or [])


@given(st.sampled_from(["chat", "completions"]), st.integers(1, 3), json_values)
def test_any_json_is_a_generation_or_malformed(endpoint: str, n: int, data: Any) -> None:
    _parse(endpoint, n, data)


@given(mutated())
@example(("chat", 1, {**valid("chat", 1), "usage": {  # found: int(inf) raised OverflowError
    "prompt_tokens": 1e400, "completion_tokens": 1}}))
@example(("chat", 1, {**valid("chat", 1), "prompt_logprobs": [{}]}))  # found: StopIteration
@example(("completions", 1, {**valid("completions", 1), "usage": {  # found: accepted as is
    "prompt_tokens": -5, "completion_tokens": 1}}))
@example(("chat", 1, {**valid("chat", 1), "usage": {  # found (thorough): FLOPs OverflowError
    "prompt_tokens": 5, "completion_tokens": 10**300}}))
def test_a_response_with_one_bad_part(case: tuple[str, int, Any]) -> None:
    _parse(*case)


@given(st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode())))
def test_error_message_is_text(body: bytes) -> None:
    assert isinstance(error_message(httpx.Response(500, content=body)), str)


bodies = st.one_of(
    st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()),
    mutated().map(lambda c: json.dumps(c[2]).encode()),
    st.integers(1, 100_000).map(lambda d: b"[" * d + b"]" * d),
    st.integers(1, 100_000).map(lambda d: b'{"a":' * d + b"1" + b"}" * d))


@given(bodies)
@example(b"[" * 100_000 + b"]" * 100_000)  # found: json's RecursionError escaped the client
@example(b'{"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}')
@example(b"NaN")
def test_the_client_reads_any_body_or_says_it_is_malformed(body: bytes) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    client = LLMClient(URL, "m", transport=transport, retries=0)
    try:
        gen = asyncio.run(client.chat([{"role": "user", "content": "hi"}], max_tokens=8))
    except MalformedResponse as e:
        assert e.url == URL
        return
    assert isinstance(gen, Generation) and len(gen.choices) == 1
