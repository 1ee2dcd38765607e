"""Web environment speed and memory per number of parallel environments.

For N = 1, 2, 4, 8 parallel environments (each its own page and browser context in ONE
Chromium), every environment plays `--episodes` seeded episodes of MiniWoB++ tasks with the
oracle agent (real actions: fill, check, select, click). Measured:

- reset (seconds): start a seeded episode and observe it. The first reset of an environment
  opens its page (context, page load, task start): reported apart as "open"; the others
  reseed the page in place;
- step (seconds): parse + perform + settle + reward + observation, as one env sees it while
  the others run;
- memory (MiB, sampled while all N pages are open): RSS summed over Chromium's processes
  (shared pages counted once per process: an over-estimate) and PSS (shared pages split:
  the honest total), the idle browser's subtracted per environment;
- episodes per second over all environments (wall time of the whole row, opens included);
- the host, its CPUs and load average (1 min) before and after each row.

`--before PATH...` adds the rows of earlier runs (this script at an older commit, e.g. a
copy of HEAD in /tmp, or the committed results) to the JSON and prints them first.
`--browsergym-python PY` also measures BrowserGym's MiniWoB++ environment on the same tasks
in that interpreter (its own virtual environment: benchmarks/browsergym_miniwob.py); without
it, or when it does not run, one line says why.

Prints tables and writes benchmarks/results/web_env.json.

    .venv/bin/python benchmarks/web_env.py [--episodes 10] [--envs 1 2 4 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from worldplan.agent.web.scripted import OracleAgent
from worldplan.envs.web.browser import BrowserManager
from worldplan.envs.web.core import AsyncWebEnv
from worldplan.envs.web.tasks.registry import make_task, miniwob_html_dir, miniwob_server

TASKS = ("click-checkboxes", "enter-text", "login-user", "choose-list")
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "web_env.json"
MIB = 2**20


def pct(xs: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


async def play(env: AsyncWebEnv, seeds: list[int], times: dict[str, list[float]],
               opened: asyncio.Event, ready: list[int], n: int, rewards: list[float]) -> None:
    for i, seed in enumerate(seeds):
        t = time.perf_counter()
        obs, _ = await env.reset(seed)
        times["open" if i == 0 else "reset"].append(time.perf_counter() - t)
        if i == 0:
            ready.append(1)
            if len(ready) == n:
                opened.set()
            await opened.wait()  # memory is sampled while all pages are open
        agent = OracleAgent(env.task.name)
        for _ in range(env.config.max_steps):
            action = agent.act(obs)
            t = time.perf_counter()
            obs, reward, term, trunc, _ = await env.step(action)
            times["step"].append(time.perf_counter() - t)
            if term or trunc:
                rewards.append(reward)
                break


async def measure(n: int, episodes: int, base_url: str) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    async with BrowserManager() as browser:
        await asyncio.sleep(1.0)
        idle_rss, idle_pss = browser.rss_bytes(), browser.pss_bytes()
        envs = [AsyncWebEnv(make_task(TASKS[i % len(TASKS)], base_url), browser)
                for i in range(n)]
        times: dict[str, list[float]] = {"open": [], "reset": [], "step": []}
        rewards: list[float] = []
        opened, ready = asyncio.Event(), list[int]()
        t0 = time.perf_counter()
        runs = [asyncio.create_task(play(env, [100 * i + k for k in range(episodes)], times,
                                         opened, ready, n, rewards))
                for i, env in enumerate(envs)]
        await opened.wait()
        rss, pss = browser.rss_bytes(), browser.pss_bytes()
        procs = len(browser.processes())
        await asyncio.gather(*runs)
        wall = time.perf_counter() - t0
        for env in envs:
            await env.close()
    resets, steps = times["reset"] or times["open"], times["step"]
    return {
        "envs": n, "episodes": n * episodes, "steps": len(steps),
        "success": sum(r == 1.0 for r in rewards) / max(1, len(rewards)),
        "open_median_s": statistics.median(times["open"]),
        "reset_median_s": statistics.median(resets), "reset_p90_s": pct(resets, 0.9),
        "step_median_s": statistics.median(steps), "step_p90_s": pct(steps, 0.9),
        "rss_idle_mib": idle_rss / MIB, "rss_total_mib": rss / MIB,
        "rss_per_env_mib": (rss - idle_rss) / MIB / n,
        "pss_idle_mib": idle_pss / MIB, "pss_total_mib": pss / MIB,
        "pss_per_env_mib": (pss - idle_pss) / MIB / n, "processes": procs,
        "episodes_per_s": n * episodes / wall, "steps_per_s": len(steps) / wall,
        "wall_s": wall, "load_before": load_before, "load_after": os.getloadavg()[0],
    }


def browsergym(python: str | None, episodes: int) -> dict[str, Any]:
    """BrowserGym's MiniWoB++ environment on the same tasks, in its own interpreter."""
    if not python:
        return {"skipped": "not measured: no --browsergym-python given (BrowserGym needs "
                           "its own virtual environment: pip install browsergym-miniwob)"}
    cmd = [python, str(HERE / "browsergym_miniwob.py"), "--html", str(miniwob_html_dir()),
           "--episodes", str(episodes), "--tasks", *TASKS]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"skipped": f"not measured: {python} did not run ({type(e).__name__}: {e})"}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        why = (out.stderr.strip().splitlines() or ["no output"])[-1][:300]
        return {"skipped": f"not measured: BrowserGym failed ({why})"}
    return dict(json.loads(lines[-1]))


def show(label: str, rows: list[dict[str, Any]]) -> None:
    print(f"{label}\n{'envs':>4} {'eps':>4} {'ok':>5} {'reset med':>9} {'reset p90':>9} "
          f"{'step med':>8} {'step p90':>8} {'RSS MiB':>8} {'RSS/env':>7} {'PSS MiB':>7} "
          f"{'PSS/env':>7} {'eps/s':>6} {'load':>5}")
    for r in rows:
        eps_s = r.get("episodes_per_s", r["episodes"] / r["wall_s"])
        pss, pss_total = r.get("pss_per_env_mib"), r.get("pss_total_mib")
        print(f"{r['envs']:>4} {r['episodes']:>4} {r['success']:>5.0%} "
              f"{r['reset_median_s']:>9.3f} {r['reset_p90_s']:>9.3f} {r['step_median_s']:>8.3f} "
              f"{r['step_p90_s']:>8.3f} {r['rss_total_mib']:>8.0f} {r['rss_per_env_mib']:>7.0f} "
              f"{'-' if pss_total is None else f'{pss_total:.0f}':>7} "
              f"{'-' if pss is None else f'{pss:.0f}':>7} {eps_s:>6.2f} "
              f"{r.get('load_before', float('nan')):>5.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=10, help="episodes per environment")
    ap.add_argument("--envs", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--before", type=Path, nargs="*", default=[],
                    help="web_env.json files of earlier commits (shown and kept as before)")
    ap.add_argument("--browsergym-python", default=os.environ.get("BROWSERGYM_PYTHON"),
                    help="the python of a virtual environment with browsergym-miniwob")
    args = ap.parse_args()
    rows = []
    with miniwob_server() as server:
        for n in args.envs:
            rows.append(asyncio.run(measure(n, args.episodes, server.base_url)))
    before = [{"source": str(p), **json.loads(p.read_text())} for p in args.before]
    for b in before:
        show(f"before ({b['meta'].get('commit') or b['source']})", b["rows"])
    show("after", rows)
    bgym = browsergym(args.browsergym_python, args.episodes)
    print("BrowserGym MiniWoB++: " + (bgym["skipped"] if "skipped" in bgym else
          f"reset median {bgym['reset_median_s']:.3f} s (p90 {bgym['reset_p90_s']:.3f}), step "
          f"median {bgym['step_median_s']:.3f} s (p90 {bgym['step_p90_s']:.3f}) at 1 env"))
    meta = {"tasks": TASKS, "episodes_per_env": args.episodes, "host": platform.node(),
            "cpus": os.cpu_count(), "time": time.time(),
            "commit": subprocess.run(["git", "describe", "--always", "--dirty"], cwd=HERE,
                                     capture_output=True, text=True).stdout.strip(),
            "note": "one page per environment, reseeded in place; the first reset (open) "
                    "is not in the reset median. RSS counts shared pages once per process, "
                    "PSS splits them. load_* is the 1-minute load average."}
    out: dict[str, Any] = {"meta": meta, "rows": rows, "browsergym": bgym}
    if before:
        out["before"] = [{k: v for k, v in b.items() if k != "before"} for b in before]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
