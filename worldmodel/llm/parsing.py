"""Reading an OpenAI-compatible server's JSON: a response into a `Generation`, an error body
into a message.

Handled: chat and text completions, /pooling rows, n choices in index order, logprobs /
top_logprobs of either endpoint, stop_reason, vLLM's prompt_logprobs (top level or on the
first choice), cached prompt tokens. Anything unexpected in a response (a missing or
mistyped field, a token count that is negative, above `MAX_TOKEN_COUNT` or not a finite
number, a wrong number of choices) is a `MalformedResponse` naming the URL; logprobs are
read as floats, whatever their value (-inf included).
Not handled: streaming chunks, tool calls; sending requests (worldmodel.llm.client).
"""

from __future__ import annotations

import math
from typing import Any

import httpx

from worldplan.worldmodel.llm.errors import MalformedResponse
from worldplan.worldmodel.llm.generation import Choice, Generation, TokenLogprob
from worldplan.worldmodel.llm.usage import Usage, estimate_flops

MAX_TOKEN_COUNT = 2**53  # a usage figure above this is garbage (and no longer exact as float)


def error_message(r: httpx.Response) -> str:
    """The message of an error response: its JSON "error" (or the whole body), cut short."""
    try:
        data = r.json()
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
        return r.text[:500]
    err = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(err, dict):
        return str(err.get("message", err))[:1000]
    return str(err)[:1000]


def is_context_error(message: str) -> bool:
    """Whether a rejection says the prompt plus max_tokens exceeds the context window."""
    m = message.lower()
    return "context length" in m or "maximum context" in m or "max_model_len" in m or (
        "too long" in m and "token" in m)


def parse_generation(endpoint: str, data: Any, *, url: str, model: str, n: int,
                     max_tokens: int, latency_s: float, n_params: int | None) -> Generation:
    """Turn the server's JSON into a Generation; anything unexpected is MalformedResponse."""
    try:
        raw_choices = sorted(data["choices"], key=lambda c: c.get("index", 0))
        choices = [_parse_choice(endpoint, c) for c in raw_choices]
        u = data["usage"]
        details = u.get("prompt_tokens_details") or {}
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        usage = Usage(int(u["prompt_tokens"]), int(u["completion_tokens"]),
                      None if cached is None else int(cached))
        counts = (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens or 0)
        if min(counts) < 0 or max(counts) > MAX_TOKEN_COUNT:
            raise ValueError(f"token counts out of range in {u!r}")
        prompt_lp = data.get("prompt_logprobs")
        if prompt_lp is None and raw_choices:
            prompt_lp = raw_choices[0].get("prompt_logprobs")
        parsed_prompt_lp = _parse_prompt_logprobs(prompt_lp) if prompt_lp is not None else None
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError,
            StopIteration) as e:  # OverflowError: int(inf); StopIteration: an empty position
        raise MalformedResponse(
            f"{url} sent a response the client cannot read ({type(e).__name__}: {e}): "
            f"{_preview(data)}", url=url) from e
    if len(choices) != n:
        raise MalformedResponse(f"{url} returned {len(choices)} choices for n={n}", url=url)
    return Generation(choices, usage, latency_s, estimate_flops(n_params, usage), model, url,
                      max_tokens, parsed_prompt_lp)


def _preview(data: Any) -> str:
    """The start of a response for an error message (whatever its depth)."""
    try:
        return str(data)[:300]
    except RecursionError:
        return f"(a {type(data).__name__} nested too deep to show)"


def _parse_choice(endpoint: str, c: dict[str, Any]) -> Choice:
    if endpoint == "chat":
        text = c["message"].get("content") or ""
        lp = c.get("logprobs")
        tokens = None
        if lp is not None and lp.get("content") is not None:
            tokens = [
                TokenLogprob(t["token"], float(t["logprob"]),
                             {a["token"]: float(a["logprob"]) for a in t.get("top_logprobs") or []})
                for t in lp["content"]
            ]
        return Choice(str(text), c.get("finish_reason"), tokens, _stop_reason(c))
    text = c["text"]
    lp = c.get("logprobs")
    tokens = None
    if lp is not None and lp.get("tokens") is not None:
        tops = lp.get("top_logprobs") or [None] * len(lp["tokens"])
        tokens = [
            TokenLogprob(tok, float(lp_), {k: float(v) for k, v in (top or {}).items()})
            for tok, lp_, top in zip(lp["tokens"], lp["token_logprobs"], tops, strict=True)
        ]
    return Choice(str(text), c.get("finish_reason"), tokens, _stop_reason(c))


def _stop_reason(c: dict[str, Any]) -> str | int | None:
    """vLLM's stop_reason: the stop string or token id matched (None: end of sequence)."""
    r = c.get("stop_reason")
    if r is None or isinstance(r, str | int):
        return r
    raise ValueError(f"stop_reason {r!r} is neither a string nor a token id")


def parse_pooling(data: Any, *, url: str, model: str, latency_s: float,
                  n_params: int | None) -> Generation:
    """vLLM's /pooling answer (one conversation): its rows as `Generation.pooled`, usage the
    prompt tokens; anything unexpected is MalformedResponse."""
    try:
        raw = data["data"][0]["data"]
        rows = [[float(v) for v in row] if isinstance(row, list) else [float(row)]
                for row in raw]
        u = data.get("usage") or {}
        details = u.get("prompt_tokens_details") or {}
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        usage = Usage(int(u.get("prompt_tokens", 0)), 0, None if cached is None else int(cached))
        if usage.prompt_tokens < 0 or usage.prompt_tokens > MAX_TOKEN_COUNT:
            raise ValueError(f"token count out of range in {u!r}")
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError) as e:
        raise MalformedResponse(f"{url}/pooling sent a response the client cannot read "
                                f"({type(e).__name__}: {e}): {_preview(data)}", url=url) from e
    return Generation([], usage, latency_s, estimate_flops(n_params, usage), model, url, 0,
                      None, rows)


def _parse_prompt_logprobs(raw: list[Any]) -> list[TokenLogprob | None]:
    """Per prompt position vLLM gives None (first token) or {token_id: {logprob, rank, ...}}."""
    out: list[TokenLogprob | None] = []
    for pos in raw:
        if pos is None:
            out.append(None)
            continue
        entries = sorted(pos.values(), key=lambda e: e.get("rank", math.inf))
        top = {str(e.get("decoded_token")): float(e["logprob"]) for e in entries}
        # the prompt's own token is the entry whose rank may be > top-k; vLLM lists it first
        first = next(iter(pos.values()))
        out.append(TokenLogprob(str(first.get("decoded_token")), float(first["logprob"]), top))
    return out
