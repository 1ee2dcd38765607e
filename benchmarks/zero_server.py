"""A zero-latency OpenAI-compatible server (vLLM's flavour) with no model: it answers at once
with synthetic math solutions, so a benchmark measures the orchestrator alone.

    .venv/bin/python benchmarks/zero_server.py --port 8399        # or, from Python:
    with zero_server() as srv: LLMClient(srv.url) ...              # its own process

Runs in its own process (uvicorn + uvloop + httptools, a bare ASGI app, orjson), so its CPU
time never counts as the orchestrator's. Endpoints:
- GET /v1/models; POST /v1/chat/completions and /v1/completions with `n` choices,
  `max_tokens` (finish_reason "length" when cut), `stop` strings (vLLM: text cut before the
  stop string, finish_reason "stop", `stop_reason` the matched string; at a natural end
  finish_reason "stop" and `stop_reason` null), `logprobs` / `top_logprobs` in each
  endpoint's format, vLLM's `continue_final_message` (the reply continues the last assistant
  message), and usage with `prompt_tokens_details.cached_tokens`;
- POST /tokenize (vLLM's: "messages" or "prompt" -> {"count", "tokens", "max_model_len"});
- POST /pooling (vLLM's token_classify for a PRM: one [P(bad), P(good)] row per step token
  "<extra_0>" in the assistant message);
- GET /stats (requests and tokens per endpoint since start or the last reset), POST /reset
  (clears the counters and the prefix cache).

Tokens are whitespace-separated words (`str.split`), in prompts and completions alike; a
chat prompt is the messages' contents, each after a one-word role marker. Cached tokens model
a prefix cache: the longest prefix (in words, whole blocks of 16) shared with any earlier
prompt, at most the prompt less one token; blocks are remembered as chained hashes. /pooling
is never cached (vLLM caches no prefix for all-token pooling). A prompt plus max_tokens
longer than --max-model-len is refused with vLLM's 400 message.

Solutions are deterministic: from the request's seed and the choice index (from the prompt
when temperature is 0 or no seed is sent). A solution has 3-8 steps of 20-60 math-like words,
separated by blank lines; the last step holds \\boxed{answer}, the answer drawn (weights .45,
.25, .18, .12) from 4 values chosen by the problem's text, some written in equivalent forms
(0.5 and \\frac{1}{2}) so votes group by equivalence. A continuation of k finished steps
returns the solution's steps from k on. A yes/no question ("Yes or No" in the last message)
answers one token whose top logprobs hold " Yes" and " No": P(Yes) is high for the
problem's first answer, low for the others, middling for unfinished solutions.
Not handled: streaming, tool calls, images, real tokenization, chat templates.
"""

from __future__ import annotations

import math
import os
import random
import re
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

MODEL = "zero"
BLOCK = 16  # prefix-cache block (tokens)
STEP_TOKEN = "<extra_0>"
CACHE_LIMIT = 4_000_000  # block hashes remembered before the prefix cache is cleared
# (canonical value, its equivalent written forms): four are picked per problem
ANSWERS: tuple[tuple[str, ...], ...] = (
    ("\\frac{1}{2}", "0.5"), ("12",), ("3\\sqrt{2}",), ("\\frac{7}{3}",), ("-4",), ("25",),
    ("\\pi",), ("2",), ("\\frac{3}{4}", "0.75"), ("10",), ("6",), ("\\sqrt{5}",), ("-1",),
    ("45",), ("\\frac{2}{9}",), ("8",))
WEIGHTS = (0.45, 0.25, 0.18, 0.12)
VOCAB = ("Let", "x", "y", "n", "=", "+", "-", "2", "3", "5", "7", "the", "so", "we", "have",
         "then", "by", "\\frac{a}{b}", "\\cdot", "(x+1)", "^2", "substituting", "gives",
         "therefore", "solve", "for", "sum", "of", "terms", "equation", "is", "and", "since",
         "factor", "\\sqrt{3}", "k", "a_n", "both", "sides", "divide", "multiply", "it",
         "follows", "that", "value", "a", "b", "4", "9", "$", "\\le", "\\ge", "note")
FILLERS = (" The", " I", " This", " It", " We", " Let", " To", " In", " A", " First", " Step",
           " There", " For", " Since", " If", " Given", " From", " So", " Then", " Now")
_WORD = re.compile(r"\S+")


def _crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def problem_key(text: str) -> int:
    """The problem's key: its first paragraph (at most 200 characters) after "Problem:"."""
    i = text.find("Problem:")
    head = text[i + 8:] if i >= 0 else text
    head = head.lstrip()[:200]
    cut = head.find("\n\n")
    return _crc(head if cut < 0 else head[:cut])


def answer_forms(key: int) -> list[tuple[str, ...]]:
    """The problem's four answers (each as its equivalent forms), the first the favoured."""
    rng = random.Random(key)
    return rng.sample(ANSWERS, 4)


def solution_steps(rng: random.Random, forms: list[tuple[str, ...]]) -> list[str]:
    """3-8 steps of 20-60 words; the last holds \\boxed{answer}."""
    steps = [" ".join(rng.choices(VOCAB, k=rng.randint(20, 60)))
             for _ in range(rng.randint(3, 8))]
    value = forms[rng.choices(range(4), WEIGHTS)[0]]
    steps[-1] += f" so the answer is $\\boxed{{{rng.choice(value)}}}$."
    return steps


def cut(text: str, max_tokens: int, stops: list[str]) -> tuple[str, int, str, str | None]:
    """(text, tokens, finish_reason, stop_reason) after the stop strings and max_tokens."""
    end, stop_reason = len(text), None
    for s in stops:
        i = text.find(s)
        if 0 <= i < end:
            end, stop_reason = i, s
    words = list(_WORD.finditer(text, 0, end))
    if len(words) > max_tokens:
        return text[:words[max_tokens - 1].end()] if max_tokens else "", max_tokens, "length", None
    return text[:end], len(words), "stop", stop_reason


class PrefixCache:
    """Cached prompt tokens: the longest earlier prefix, in whole blocks of BLOCK words."""

    def __init__(self) -> None:
        self.blocks: set[int] = set()

    def lookup_insert(self, words: list[str]) -> int:
        h, hit, full = 0, 0, len(words) // BLOCK
        for b in range(full):
            h = hash((h, *words[b * BLOCK:(b + 1) * BLOCK]))
            if hit == b and h in self.blocks:
                hit = b + 1
            self.blocks.add(h)
        if len(self.blocks) > CACHE_LIMIT:
            self.blocks.clear()
        return min(hit * BLOCK, max(0, (len(words) - 1) // BLOCK * BLOCK))


class ZeroModel:
    """The request handlers and their counters."""

    def __init__(self, max_model_len: int) -> None:
        self.max_model_len = max_model_len
        self.reset()

    def reset(self) -> None:
        self.cache = PrefixCache()
        self.stats: dict[str, dict[str, int]] = {}
        self.started = time.time()

    def _count(self, endpoint: str, prompt: int, cached: int, completion: int) -> None:
        s = self.stats.setdefault(endpoint, {"requests": 0, "prompt_tokens": 0,
                                             "cached_tokens": 0, "completion_tokens": 0})
        s["requests"] += 1
        s["prompt_tokens"] += prompt
        s["cached_tokens"] += cached
        s["completion_tokens"] += completion

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if method == "GET" and path == "/v1/models":
            return 200, {"object": "list", "data": [{
                "id": MODEL, "object": "model", "created": int(self.started), "owned_by": "zero",
                "root": MODEL, "max_model_len": self.max_model_len}]}
        if method == "GET" and path in ("/stats", "/health"):
            return 200, {"stats": self.stats, "cache_blocks": len(self.cache.blocks),
                         "cpu_s": time.process_time()}
        if method == "POST" and path == "/reset":
            self.reset()
            return 200, {"ok": True}
        if method != "POST":
            return 404, {"error": {"message": f"no route {method} {path}"}}
        try:
            req = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            return 400, {"error": {"message": f"invalid JSON: {e}"}}
        if path == "/v1/chat/completions":
            return self.generate(req, chat=True)
        if path == "/v1/completions":
            return self.generate(req, chat=False)
        if path == "/tokenize":
            words = _prompt(req).split()
            self._count("tokenize", len(words), 0, 0)
            return 200, {"count": len(words), "max_model_len": self.max_model_len,
                         "tokens": [_crc(w) % 151_936 for w in words]}
        if path == "/pooling":
            return self.pooling(req)
        return 404, {"error": {"message": f"no route {method} {path}"}}

    def generate(self, req: dict[str, Any], *, chat: bool) -> tuple[int, Any]:
        prompt = _prompt(req)
        words = prompt.split()
        n = int(req.get("n") or 1)
        max_tokens = int(req.get("max_tokens") or 16)
        if len(words) + max_tokens > self.max_model_len:
            return 400, {"error": {"message": (
                f"This model's maximum context length is {self.max_model_len} tokens. However, "
                f"you requested {len(words) + max_tokens} tokens ({len(words)} in the messages, "
                f"{max_tokens} in the completion). Please reduce the length of the messages or "
                "completion."), "type": "BadRequestError", "code": 400}}
        cached = self.cache.lookup_insert(words)
        stops = req.get("stop") or []
        stops = [stops] if isinstance(stops, str) else list(stops)
        temperature = float(req.get("temperature", 1.0) or 0.0)
        seed = req.get("seed")
        msgs = req.get("messages") or []
        last = (msgs[-1].get("content") or "") if msgs else prompt
        yes_no = "yes or no" in (last[-200:] if chat else prompt[-200:]).lower()
        done_steps = _done_steps(req, msgs) if chat else 0
        key = problem_key(prompt)
        want_lp = bool(req.get("logprobs")) if chat else req.get("logprobs") is not None
        top_k = int((req.get("top_logprobs") if chat else req.get("logprobs")) or 0)
        choices, completion = [], 0
        for i in range(n):
            base = (int(seed) * 1009 + i) if seed is not None and temperature > 0 else (
                _crc(prompt) + i)
            rng = random.Random(base)
            if yes_no:
                p = _p_yes(prompt, key, rng)
                text, tokens, finish, stop_reason = (" Yes" if p >= 0.5 else " No"), 1, (
                    "length" if max_tokens <= 1 else "stop"), None
                lps = [_yes_no_logprobs(p, top_k)] if want_lp else None
            else:
                steps = solution_steps(rng, answer_forms(key))
                rest = steps[done_steps:] or steps[-1:]
                text, tokens, finish, stop_reason = cut("\n\n".join(rest), max_tokens, stops)
                lps = [_word_logprobs(w, top_k, rng) for w in text.split()] if want_lp else None
            completion += tokens
            choices.append(_choice(i, text, finish, stop_reason, lps, chat=chat))
        self._count("chat" if chat else "completions", len(words), cached, completion)
        return 200, {
            "id": f"cmpl-{_crc(prompt):x}", "object": "chat.completion" if chat else
            "text_completion", "created": int(time.time()), "model": MODEL, "choices": choices,
            "usage": {"prompt_tokens": len(words), "completion_tokens": completion,
                      "total_tokens": len(words) + completion,
                      "prompt_tokens_details": {"cached_tokens": cached}}}

    def pooling(self, req: dict[str, Any]) -> tuple[int, Any]:
        msgs = req.get("messages") or []
        content = next((m.get("content") or "" for m in reversed(msgs)
                        if m.get("role") == "assistant"), req.get("input") or "")
        steps = content.split(STEP_TOKEN)[:-1]
        key = problem_key(_prompt(req))
        favoured = answer_forms(key)[0]
        rows = []
        for s in steps:
            u = (_crc(s) % 10_000) / 10_000
            good = any(f"\\boxed{{{f}}}" in s for f in favoured)
            p = 0.6 + 0.35 * u if good else (0.05 + 0.55 * u if "\\boxed" in s else 0.3 + 0.6 * u)
            rows.append([round(1 - p, 6), round(p, 6)])
        prompt_tokens = len(_prompt(req).split())
        self._count("pooling", prompt_tokens, 0, 0)
        return 200, {"id": f"pool-{_crc(content):x}", "object": "list",
                     "created": int(time.time()), "model": MODEL,
                     "data": [{"index": 0, "object": "pooling", "data": rows}],
                     "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens,
                               "completion_tokens": 0}}


def _prompt(req: dict[str, Any]) -> str:
    msgs = req.get("messages")
    if msgs is None:
        p = req.get("prompt") or ""
        return p if isinstance(p, str) else " ".join(map(str, p))
    return "\n".join(f"<{m.get('role')}> {m.get('content') or ''}" for m in msgs)


def _done_steps(req: dict[str, Any], msgs: list[dict[str, Any]]) -> int:
    """Steps already written when the reply continues the last (assistant) message."""
    if not (req.get("continue_final_message") and msgs and msgs[-1].get("role") == "assistant"):
        return 0
    return sum(1 for s in (msgs[-1].get("content") or "").split("\n\n") if s.strip())


def _p_yes(prompt: str, key: int, rng: random.Random) -> float:
    """High for the problem's favoured answer, low for the others, middling unfinished."""
    i = prompt.rfind("\\boxed{")
    u = rng.random()
    if i < 0:
        return 0.3 + 0.6 * u
    ans = prompt[i + 7:prompt.find("}", i + 7)] if "}" in prompt[i + 7:] else ""
    good = ans in answer_forms(key)[0]
    return 0.6 + 0.35 * u if good else 0.05 + 0.55 * u


def _yes_no_logprobs(p: float, top_k: int) -> dict[str, Any]:
    """One token's logprobs: " Yes" and " No" hold 97% of the mass, fillers the rest."""
    top = [(" Yes", math.log(0.97 * p)), (" No", math.log(0.97 * (1 - p)))]
    top += [(t, math.log(0.03 / len(FILLERS))) for t in FILLERS[:max(0, top_k - 2)]]
    top.sort(key=lambda t: -t[1])
    tok, lp = top[0]  # greedy: the likelier of " Yes" and " No"
    return {"token": tok, "logprob": lp, "top": top[:max(top_k, 0)]}


def _word_logprobs(word: str, top_k: int, rng: random.Random) -> dict[str, Any]:
    lp = -rng.random()
    others = FILLERS[:max(0, top_k - 1)]
    top = [(" " + word, lp)] + [(t, lp - 1.0 - j) for j, t in enumerate(others)]
    return {"token": " " + word, "logprob": lp, "top": top[:top_k]}


def _choice(i: int, text: str, finish: str, stop_reason: str | None,
            lps: list[dict[str, Any]] | None, *, chat: bool) -> dict[str, Any]:
    if chat:
        logprobs = None if lps is None else {"content": [
            {"token": t["token"], "logprob": t["logprob"], "bytes": None,
             "top_logprobs": [{"token": a, "logprob": b, "bytes": None} for a, b in t["top"]]}
            for t in lps]}
        return {"index": i, "message": {"role": "assistant", "content": text},
                "logprobs": logprobs, "finish_reason": finish, "stop_reason": stop_reason}
    logprobs = None if lps is None else {
        "tokens": [t["token"] for t in lps], "token_logprobs": [t["logprob"] for t in lps],
        "top_logprobs": [dict(t["top"]) for t in lps],
        "text_offset": list(range(len(lps)))}
    return {"index": i, "text": text, "logprobs": logprobs, "finish_reason": finish,
            "stop_reason": stop_reason}


def make_app(max_model_len: int = 32_768) -> Any:
    """The bare ASGI app (no framework: the fewest CPU cycles per request)."""
    model = ZeroModel(max_model_len)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            msg = await receive()
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
        status, payload = model.handle(scope["method"], scope["path"], body)
        data = orjson.dumps(payload)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})

    return app


def serve(port: int, host: str = "127.0.0.1", max_model_len: int = 32_768) -> None:
    import uvicorn

    uvicorn.run(make_app(max_model_len), host=host, port=port, loop="uvloop", http="httptools",
                lifespan="off", access_log=False, log_level="warning", backlog=4096)


@dataclass(frozen=True)
class ZeroServer:
    url: str  # http://127.0.0.1:PORT
    pid: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def zero_server(port: int | None = None, *, max_model_len: int = 32_768,
                startup_s: float = 30.0) -> Iterator[ZeroServer]:
    """Start the server in its own process; yields once /v1/models answers; stops it after."""
    import httpx

    port = port or free_port()
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--port", str(port),
                             "--max-model-len", str(max_model_len)])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"zero server exited with {proc.returncode} on port {port}")
            try:
                if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"zero server did not answer on {url} in {startup_s} s")
            time.sleep(0.05)
        yield ZeroServer(url, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(port: int = 8399, host: str = "127.0.0.1", max_model_len: int = 32_768) -> None:
    """Serve until killed."""
    serve(port, host, max_model_len)


if __name__ == "__main__":
    import typer

    typer.run(main)
