"""Throughput of the served model through worldplan's client: one stream, n=8 in one
request, 8 concurrent requests, and the latency a repeated long prefix saves.

    .venv/bin/python benchmarks/llm_throughput.py --model smollm2-135m
    .venv/bin/python benchmarks/llm_throughput.py --llm-url http://127.0.0.1:8321

Generation lengths are fixed (vLLM's ignore_eos) so every row generates the same number of
tokens per sample. Prints a table and writes benchmarks/results/llm_throughput[-NAME].json,
with the host (CPU, AVX-512 and BF16 flags) and the load average before and after.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from worldplan.traces.provenance import host_info
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.connect import served_params
from worldplan.worldmodel.llm.generation import Generation
from worldplan.worldmodel.llm.models import resolve_model
from worldplan.worldmodel.llm.serving import free_port, start_server, stop_server

RESULTS = Path(__file__).parent / "results"
Q = [{"role": "user", "content": "Write a short story about a lighthouse keeper."}]


async def _rows(client: LLMClient, max_tokens: int, repeats: int) -> list[dict[str, object]]:
    fixed = {"ignore_eos": True}
    await client.chat(Q, max_tokens=8, extra=fixed)  # warm-up

    async def timed(label: str, n_requests: int, n: int) -> dict[str, object]:
        t0 = time.perf_counter()
        gens: list[Generation] = await asyncio.gather(*(
            client.chat(Q, n=n, max_tokens=max_tokens, temperature=1.0, extra=fixed)
            for _ in range(n_requests)))
        wall = time.perf_counter() - t0
        tokens = sum(g.usage.completion_tokens for g in gens)
        return {"case": label, "requests": n_requests, "n": n, "completion_tokens": tokens,
                "wall_s": round(wall, 2), "tokens_per_s": round(tokens / wall, 1)}

    rows = [await timed("1 stream", 1, 1), await timed("n=8 in one request", 1, 8),
            await timed("8 concurrent requests", 8, 1)]
    # a long shared prefix: first call computes it, later calls find it in the prefix cache
    cold, warm, cached = [], [], []
    for _ in range(repeats):
        prefix = f"[{uuid.uuid4()}] Reference notes: " + " ".join(
            f"fact {i} is that item {i} weighs {i * 7 % 13} kg." for i in range(90))
        a = await client.complete(prefix + "\nQuestion: what does item 3 weigh?", max_tokens=1)
        b = await client.complete(prefix + "\nQuestion: what does item 5 weigh?", max_tokens=1)
        cold.append(a.latency_s)
        warm.append(b.latency_s)
        cached.append(b.usage.cached_tokens or 0)
        prompt_tokens = a.usage.prompt_tokens
    rows.append({"case": "long prefix, cold", "prompt_tokens": prompt_tokens,
                 "latency_s": round(statistics.median(cold), 3)})
    rows.append({"case": "long prefix, cached", "prompt_tokens": prompt_tokens,
                 "cached_tokens": int(statistics.median(cached)),
                 "latency_s": round(statistics.median(warm), 3),
                 "saved_s": round(statistics.median(cold) - statistics.median(warm), 3)})
    return rows


def main(
    model: str = typer.Option("smollm2-135m", help="Model to serve (ignored with --llm-url)."),
    llm_url: str = typer.Option("", help="Use this running server instead of starting one."),
    max_tokens: int = typer.Option(64, help="Tokens generated per sample."),
    repeats: int = typer.Option(3, help="Repeats of the prefix-cache measurement."),
) -> None:
    started, host = None, host_info()  # the load before this benchmark adds its own
    if llm_url:
        url = llm_url
    else:
        started = start_server(resolve_model(model), port=free_port(), reuse=False)
        url = started.url
    try:
        client = LLMClient(url, n_params=served_params(url))
        rows = asyncio.run(_rows(client, max_tokens, repeats))
        name = asyncio.run(client.served_model())
    finally:
        if started:
            stop_server(started.port)
    table = Table(title=f"LLM throughput: {name} at {url}, {max_tokens} tokens per sample")
    cols = ["case", "requests", "n", "completion_tokens", "wall_s", "tokens_per_s",
            "prompt_tokens", "cached_tokens", "latency_s", "saved_s"]
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*(str(r.get(c, "")) for c in cols))
    Console(width=160).print(table)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"llm_throughput-{name.replace('/', '_')}.json"
    out.write_text(json.dumps({"model": name, "url": url, "max_tokens": max_tokens,
                               "host": host, "load_average_after": host_info()["load_average"],
                               "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    typer.run(main)
