"""Orchestration overhead: the real strategies, runner and traces against a zero-latency server.

    .venv/bin/python benchmarks/orchestration.py run --label before --problems 500 --ns 16,64
    .venv/bin/python benchmarks/orchestration.py run --rows beam --ns 64 --profile /tmp/o.prof
    .venv/bin/python benchmarks/orchestration.py compare before after

`run` starts benchmarks/zero_server.py in its own process (no model: every answer is
immediate) and, for each strategy row and N, solves MATH-500 problems with the math runner
(agent.runs.math.run_math: the registry's strategies, a real `LLMClient` over HTTP, the
generative verifier or the PRM adapter on /pooling, math-verify votes and grading, every
call, episode and search node stored in a fresh SQLite trace database), many problems in
flight (`--concurrency`). The budget is N generations per problem (`Budget(N)`); each row's
strategy parameters at N are in `ROWS`. Rows: best_of_n (weighted), majority, beam,
lookahead, revisions (generative verifier), best_of_n+prm and beam+prm (PRM on /pooling).

Measured per row, over the whole run (`run_math` call, the trace database included):
- calls: LLM requests answered (chat, completions, pooling), from the client's CallRecords
  (checked against the server's own count);
- calls/s = calls / wall seconds; samples/s counts sampled completions (a request with
  n samples counts n; a verifier call 1; a /pooling call 0);
- orchestration CPU (s) = the orchestrator process's CPU time (time.process_time: all its
  threads) + the CPU time of the math-verify grader worker (a child process); the zero
  server's CPU is reported apart and never counted;
- GPU time (s) = sum over calls of (prompt - cached prompt tokens) / prefill rate +
  completion tokens / decode rate; a /pooling call is prefill only, never cached. Defaults:
  decode `--gpu-tokens-per-s` 20,000 tokens/s (a 1.5B model, batched, on one GPU), prefill
  `--prefill-tokens-per-s` 200,000 tokens/s (10x decode);
- overhead share = orchestration CPU / (orchestration CPU + GPU time): the share of wall time
  the orchestrator would take if it ran beside (not overlapped with) a server producing
  tokens at that rate. Goal: >= 1,000 calls/s and < 2 %.
Tokens are the zero server's whitespace words; real BPE counts are higher (about 1.3-2x on
LaTeX), so real GPU time is longer and this overhead share is an upper bound in that respect.
The grader worker is warmed (sympy imported) before the clock starts; the server's prefix
cache and counters are reset before each row. Accuracy is meaningless here (no model).

Writes benchmarks/results/orchestration[-LABEL].json (`--append` merges rows into it and
adds its invocation); the JSON states the host (AVX-512 or not), the load average at the
start and end of each invocation and around each row, the commit of the `worldplan` code that
ran (and whether it had local changes), and the sizes (problems per row).
`compare before after` prints both files' rows in one table.
Not handled: the web agent, multi-GPU servers, several orchestrator processes.
"""

from __future__ import annotations

import cProfile
import inspect
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import typer
from rich.console import Console
from rich.table import Table

import worldplan.agent
from worldplan.agent.runs.math import MathRunConfig, run_math
from worldplan.envs.math.data import load_problems
from worldplan.envs.math.grader import Grader
from worldplan.traces.engine import make_engine
from worldplan.traces.provenance import host_info
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.generation import CallRecord
from worldplan.worldmodel.math.verifier import GenerativeVerifier, PRMVerifier, Verifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from zero_server import zero_server  # noqa: E402  (a sibling script, not a package)

RESULTS = Path(__file__).resolve().parent / "results"
N_PARAMS = 1_543_714_304  # Qwen2.5-1.5B: only for the client's FLOPs estimate

# row -> (strategy name, verifier kind, parameters at budget N generations)
ROWS: dict[str, tuple[str, str, Callable[[int], dict[str, Any]]]] = {
    "best_of_n": ("best_of_n", "generative", lambda n: {}),
    "majority": ("majority", "generative", lambda n: {}),
    "beam": ("beam", "generative", lambda n: {"n_beams": max(4, n // 8), "width": 2}),
    "lookahead": ("lookahead", "generative",
                  lambda n: {"k": 1, "n_beams": max(4, n // 12), "width": 2}),
    "revisions": ("revisions", "generative", lambda n: {}),
    "best_of_n+prm": ("best_of_n", "prm", lambda n: {}),
    "beam+prm": ("beam", "prm", lambda n: {"n_beams": max(4, n // 6), "width": 2}),
    # at budget scale (after the change): N = budget beams, width 4, up to 40 rounds
    "beam@N": ("beam", "generative", lambda n: {}),
    "dvts@N": ("dvts", "generative", lambda n: {}),
    "beam@N+prm": ("beam", "prm", lambda n: {}),
}

app = typer.Typer(add_completion=False)


def solve_all(row: str, n: int, problems: list[Any], *, client: LLMClient,
              verifier: Verifier | None, store: TraceStore, grader: Grader,
              concurrency: int, seed: int) -> None:
    """The one place that invokes the strategies: adapt it when their API changes."""
    strategy, _, params = ROWS[row]
    config = MathRunConfig(dataset="math500", limit=len(problems), strategy=strategy,
                           params=params(n), budget_generations=n, seed=seed,
                           concurrency=concurrency)
    run_math(config, client=client, verifier=verifier, store=store, grader=grader,
             problems=problems, progress=_progress(len(problems)))


def make_verifier(kind: str, client: LLMClient, url: str, counter: CallCounter) -> Verifier:
    """A row's verifier (adapt with `solve_all`). The PRM adapter of b046cd8 takes the PRM's
    URL and observers of its own; a later one asks through an LLMClient (its observers)."""
    if kind == "generative":
        return GenerativeVerifier(client)
    if "client" in inspect.signature(PRMVerifier).parameters:
        return PRMVerifier(client)  # type: ignore[call-arg, unused-ignore]
    return PRMVerifier(url, "zero", observers=[counter])  # type: ignore[call-arg, unused-ignore]


def _progress(total: int) -> Callable[[Any, int, int], None]:
    step = max(1, total // 5)

    def show(_outcome: Any, done: int, _total: int) -> None:
        if done % step == 0 or done == total:
            print(f"    {done}/{total} problems", file=sys.stderr, flush=True)

    return show


@dataclass
class CallCounter:
    """A client observer: calls per role and endpoint, their tokens and GPU-equivalent time."""

    decode_tps: float  # tokens/s
    prefill_tps: float  # tokens/s
    calls: dict[str, int] = field(default_factory=dict)
    choices: int = 0  # sampled completions (a request with n samples has n)
    tokenize: int = 0  # /tokenize requests: not LLM calls, no GPU time
    errors: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    gpu_s: float = 0.0

    def __call__(self, rec: CallRecord) -> None:
        if rec.endpoint == "tokenize":
            self.tokenize += 1
            return
        if rec.generation is None:
            self.errors += 1
            return
        key = f"{rec.role}:{rec.endpoint}"
        self.calls[key] = self.calls.get(key, 0) + 1
        self.choices += len(rec.generation.choices)
        u = rec.generation.usage
        cached = 0 if rec.endpoint == "pooling" else (u.cached_tokens or 0)
        self.prompt_tokens += u.prompt_tokens
        self.cached_tokens += cached
        self.completion_tokens += u.completion_tokens
        self.gpu_s += ((u.prompt_tokens - cached) / self.prefill_tps
                       + u.completion_tokens / self.decode_tps)

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def _children_cpu(exclude: int) -> float:
    """CPU seconds (user + system) of this process's live children except `exclude`."""
    total = 0.0
    for c in psutil.Process().children(recursive=True):
        if c.pid == exclude:
            continue
        try:
            t = c.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def _proc_cpu(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def measure(row: str, n: int, problems: list[Any], *, url: str, server_pid: int,
            concurrency: int, inflight: int, decode_tps: float, prefill_tps: float, seed: int,
            profile: cProfile.Profile | None = None) -> dict[str, Any]:
    """One row at one N: run it and return what it cost."""
    httpx.post(f"{url}/reset", timeout=10).raise_for_status()
    counter = CallCounter(decode_tps, prefill_tps)
    client = LLMClient(url, "zero", n_params=N_PARAMS, max_concurrency=inflight,
                       observers=[counter])
    kind = ROWS[row][1]
    verifier = make_verifier(kind, client, url, counter)
    with tempfile.TemporaryDirectory(prefix="orch-") as tmp, Grader() as grader:
        store = TraceStore(make_engine(str(Path(tmp) / "traces.db")))
        grader.grade("0.5", "\\frac{1}{2}")  # start the worker (imports sympy) off the clock
        cpu0, child0 = time.process_time(), _children_cpu(server_pid)
        srv0, wall0 = _proc_cpu(server_pid), time.perf_counter()
        if profile is not None:
            profile.enable()
        solve_all(row, n, problems, client=client, verifier=verifier, store=store,
                  grader=grader, concurrency=concurrency, seed=seed)
        if profile is not None:
            profile.disable()
        wall = time.perf_counter() - wall0
        cpu, grader_cpu = time.process_time() - cpu0, _children_cpu(server_pid) - child0
        server_cpu = _proc_cpu(server_pid) - srv0
        db_mb = sum(f.stat().st_size for f in Path(tmp).glob("traces.db*")) / 2**20
    served = httpx.get(f"{url}/stats", timeout=10).json()["stats"]
    server_calls = sum(v["requests"] for k, v in served.items() if k != "tokenize")
    orch = cpu + grader_cpu
    calls = counter.total
    return {
        "row": row, "strategy": ROWS[row][0], "verifier": kind, "n": n,
        "params": ROWS[row][2](n), "problems": len(problems), "calls": calls,
        "server_calls": server_calls, "errors": counter.errors, "calls_by": counter.calls,
        "tokenize_requests": served.get("tokenize", {}).get("requests", 0),
        "wall_s": round(wall, 2), "calls_per_s": round(calls / wall, 1),
        "choices": counter.choices, "choices_per_s": round(counter.choices / wall, 1),
        "process_cpu_s": round(cpu, 2), "grader_cpu_s": round(grader_cpu, 2),
        "orch_cpu_s": round(orch, 2), "cpu_ms_per_call": round(1000 * orch / calls, 3),
        "calls_per_cpu_s": round(calls / orch, 1), "gpu_s": round(counter.gpu_s, 2),
        "gpu_ms_per_call": round(1000 * counter.gpu_s / calls, 3),
        "overhead_pct": round(100 * orch / (orch + counter.gpu_s), 2),
        "server_cpu_s": round(server_cpu, 2),
        "prompt_tokens": counter.prompt_tokens, "cached_tokens": counter.cached_tokens,
        "completion_tokens": counter.completion_tokens, "trace_db_mib": round(db_mb, 1)}


def code_commit() -> dict[str, Any]:
    """The commit (and whether it has local changes) of the worldplan code that runs."""
    root = Path(worldplan.agent.__file__).resolve().parents[1]

    def git(*args: str) -> str:
        r = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                           check=False)
        return r.stdout.strip()

    dirty = git("status", "--porcelain", "--", "agent", "worldmodel", "envs", "traces")
    return {"root": str(root), "commit": git("rev-parse", "HEAD"), "dirty": bool(dirty)}


COLUMNS = [("row", "row"), ("n", "N"), ("problems", "problems"), ("calls", "calls"),
           ("wall_s", "wall s"), ("calls_per_s", "calls/s"), ("choices_per_s", "samples/s"),
           ("cpu_ms_per_call", "CPU ms/call"), ("calls_per_cpu_s", "calls/CPU s"),
           ("gpu_ms_per_call", "GPU ms/call"), ("overhead_pct", "overhead %"),
           ("server_cpu_s", "server CPU s")]


def print_rows(title: str, rows: list[dict[str, Any]]) -> None:
    table = Table(title=title)
    for _, head in COLUMNS:
        table.add_column(head, justify="right")
    for r in rows:
        table.add_row(*(str(r.get(k, "")) for k, _ in COLUMNS))
    Console(width=170).print(table)


def _out(label: str) -> Path:
    return RESULTS / (f"orchestration-{label}.json" if label else "orchestration.json")


@app.command()
def run(
    label: str = typer.Option("", help="before | after: the result file's suffix."),
    rows: str = typer.Option(",".join(ROWS), help=f"Comma-separated rows of {', '.join(ROWS)}."),
    ns: str = typer.Option("16,64,256", help="Budgets N (generations per problem)."),
    problems: int = typer.Option(500, help="MATH-500 problems per row (the first ones)."),
    concurrency: int = typer.Option(16, help="Problems in flight."),
    inflight: int = typer.Option(64, help="The client's requests in flight at most."),
    gpu_tokens_per_s: float = typer.Option(20_000, help="Decode rate for the GPU time."),
    prefill_tokens_per_s: float = typer.Option(200_000, help="Prefill rate (tokens/s)."),
    seed: int = typer.Option(0, help="Sampling seed of the run."),
    append: bool = typer.Option(False, help="Merge rows into the existing result file."),
    profile: str = typer.Option("", help="cProfile the rows into this file; no JSON written."),
) -> None:
    """Measure each row at each N and write the JSON."""
    names = [r.strip() for r in rows.split(",") if r.strip()]
    unknown = [r for r in names if r not in ROWS]
    if unknown:
        raise typer.BadParameter(f"unknown rows {unknown}: choose from {', '.join(ROWS)}")
    budgets = [int(x) for x in ns.split(",") if x.strip()]
    host, commit = host_info(), code_commit()
    load_start = os.getloadavg()
    print(f"host: {host}\ncode: {commit}\nload average at start: {load_start}\n"
          f"sizes: {problems} problems x rows {names} x N {budgets}; concurrency "
          f"{concurrency} problems, {inflight} requests in flight; GPU decode "
          f"{gpu_tokens_per_s:g} tokens/s, prefill {prefill_tokens_per_s:g} tokens/s")
    probs = load_problems("math500", limit=problems)
    prof = cProfile.Profile() if profile else None
    results: list[dict[str, Any]] = []
    with zero_server() as srv:
        for n in budgets:
            for row in names:
                print(f"  {row} N={n} ...", file=sys.stderr, flush=True)
                load_before = [round(x, 2) for x in os.getloadavg()]
                r = measure(row, n, probs, url=srv.url, server_pid=srv.pid,
                            concurrency=concurrency, inflight=inflight,
                            decode_tps=gpu_tokens_per_s, prefill_tps=prefill_tokens_per_s,
                            seed=seed, profile=prof)
                r["load_avg_before"] = load_before
                r["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
                results.append(r)
                print(f"  {row} N={n}: {r['calls']} calls in {r['wall_s']} s, "
                      f"{r['calls_per_s']} calls/s, {r['cpu_ms_per_call']} CPU ms/call, "
                      f"overhead {r['overhead_pct']} %", file=sys.stderr, flush=True)
    load_end = os.getloadavg()
    print(f"load average at end: {load_end}")
    print_rows(f"Orchestration {label or ''} at {commit['commit'][:7]}"
               f"{' (dirty)' if commit['dirty'] else ''}: decode {gpu_tokens_per_s:g} tok/s, "
               f"prefill {prefill_tokens_per_s:g} tok/s; tokens = words", results)
    if prof is not None:
        prof.dump_stats(profile)
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(30)
        print(s.getvalue())
        print(f"wrote {profile} (no JSON: a profiled run is slower)")
        return
    out = _out(label)
    old = json.loads(out.read_text()) if append and out.exists() else {}
    keys = {(r["row"], r["n"]) for r in results}
    merged = [r for r in old.get("rows", []) if (r["row"], r["n"]) not in keys] + results
    invocation = {"argv": sys.argv[1:], "load_avg_start": [round(x, 2) for x in load_start],
                  "load_avg_end": [round(x, 2) for x in load_end]}
    RESULTS.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "label": label, "code": commit, "host": host,
        "invocations": old.get("invocations", []) + [invocation],
        "settings": {"concurrency": concurrency, "inflight": inflight,
                     "gpu_decode_tokens_per_s": gpu_tokens_per_s,
                     "gpu_prefill_tokens_per_s": prefill_tokens_per_s, "seed": seed,
                     "dataset": "math500 (first `problems` of each row)",
                     "tokens": "whitespace words (zero server)",
                     "overhead": "orch_cpu_s / (orch_cpu_s + gpu_s)"},
        "rows": merged}, indent=2))
    print(f"wrote {out}")


@app.command()
def compare(before: str = typer.Argument("before"), after: str = typer.Argument("after")
            ) -> None:
    """One table: each row and N, before and after (labels or JSON paths)."""
    def load(x: str) -> dict[tuple[str, int], dict[str, Any]]:
        p = Path(x) if x.endswith(".json") else _out(x)
        return {(r["row"], r["n"]): r for r in json.loads(p.read_text())["rows"]}

    a, b = load(before), load(after)
    table = Table(title=f"Orchestration: {before} -> {after} (overhead at the stated GPU rate)")
    for head in ("row", "N", "problems", "calls/s", "samples/s", "CPU ms/call", "overhead %"):
        table.add_column(head, justify="right")
    for key in sorted(set(a) | set(b), key=lambda k: (k[1], list(ROWS).index(k[0]))):
        ra, rb = a.get(key, {}), b.get(key, {})
        table.add_row(key[0], str(key[1]), *(f"{ra.get(f, '-')} -> {rb.get(f, '-')}" for f in (
            "problems", "calls_per_s", "choices_per_s", "cpu_ms_per_call", "overhead_pct")))
    Console(width=170).print(table)


if __name__ == "__main__":
    app()
