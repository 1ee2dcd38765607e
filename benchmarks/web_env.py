"""Web environment speed and memory per number of parallel environments.

For N = 1, 2, 4 parallel environments (each its own browser context in ONE Chromium), every
environment plays `--episodes` seeded episodes of MiniWoB++ tasks with the oracle agent
(real actions: fill, check, select, click). Measured:

- reset time (seconds): new context + page load + seeded task start + first observation;
- step time (seconds): parse + perform + settle + reward + observation, as one env sees it
  while the others run;
- memory: RSS (MiB) summed over Chromium's processes (browser, renderers, GPU, utilities),
  sampled while all N contexts are open; also minus the idle browser, per environment.

Prints a table and writes benchmarks/results/web_env.json.

    .venv/bin/python benchmarks/web_env.py [--episodes 3] [--envs 1 2 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from worldplan.agent.web.scripted import OracleAgent
from worldplan.envs.web.browser import BrowserManager
from worldplan.envs.web.core import AsyncWebEnv
from worldplan.envs.web.page_server import PageServer
from worldplan.envs.web.tasks.registry import make_task, miniwob_html_dir

TASKS = ("click-checkboxes", "enter-text", "login-user", "choose-list")
RESULTS = Path(__file__).resolve().parent / "results" / "web_env.json"
MIB = 2**20


def pct(xs: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


async def play(env: AsyncWebEnv, seeds: list[int], resets: list[float], steps: list[float],
               opened: asyncio.Event, ready: list[int], n: int, rewards: list[float]) -> None:
    for i, seed in enumerate(seeds):
        t = time.perf_counter()
        obs, _ = await env.reset(seed)
        resets.append(time.perf_counter() - t)
        if i == 0:
            ready.append(1)
            if len(ready) == n:
                opened.set()
            await opened.wait()  # memory is sampled while all contexts are open
        agent = OracleAgent(env.task.name)
        for _ in range(env.config.max_steps):
            action = agent.act(obs)
            t = time.perf_counter()
            obs, reward, term, trunc, _ = await env.step(action)
            steps.append(time.perf_counter() - t)
            if term or trunc:
                rewards.append(reward)
                break


async def measure(n: int, episodes: int, base_url: str) -> dict[str, Any]:
    async with BrowserManager() as browser:
        await asyncio.sleep(1.0)
        idle = browser.rss_bytes()
        envs = [AsyncWebEnv(make_task(TASKS[i % len(TASKS)], base_url), browser)
                for i in range(n)]
        resets: list[float] = []
        steps: list[float] = []
        rewards: list[float] = []
        opened, ready = asyncio.Event(), list[int]()
        t0 = time.perf_counter()
        runs = [asyncio.create_task(play(env, [100 * i + k for k in range(episodes)], resets,
                                         steps, opened, ready, n, rewards))
                for i, env in enumerate(envs)]
        await opened.wait()
        peak = browser.rss_bytes()
        procs = len(browser.processes())
        await asyncio.gather(*runs)
        wall = time.perf_counter() - t0
        for env in envs:
            await env.close()
    return {
        "envs": n, "episodes": len(resets), "steps": len(steps),
        "success": sum(r == 1.0 for r in rewards) / max(1, len(rewards)),
        "reset_median_s": statistics.median(resets), "reset_p90_s": pct(resets, 0.9),
        "step_median_s": statistics.median(steps), "step_p90_s": pct(steps, 0.9),
        "rss_idle_mib": idle / MIB, "rss_total_mib": peak / MIB,
        "rss_per_env_mib": (peak - idle) / MIB / n, "processes": procs,
        "steps_per_s": len(steps) / wall, "wall_s": wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=3, help="episodes per environment")
    ap.add_argument("--envs", type=int, nargs="+", default=[1, 2, 4])
    args = ap.parse_args()
    rows = []
    with PageServer(miniwob_html_dir()) as server:
        for n in args.envs:
            rows.append(asyncio.run(measure(n, args.episodes, server.base_url)))
    head = (f"{'envs':>4} {'eps':>4} {'steps':>5} {'ok':>5} {'reset med':>9} {'reset p90':>9} "
            f"{'step med':>8} {'step p90':>8} {'RSS MiB':>8} {'MiB/env':>7} {'steps/s':>7}")
    print(head)
    for r in rows:
        print(f"{r['envs']:>4} {r['episodes']:>4} {r['steps']:>5} {r['success']:>5.0%} "
              f"{r['reset_median_s']:>9.3f} {r['reset_p90_s']:>9.3f} {r['step_median_s']:>8.3f} "
              f"{r['step_p90_s']:>8.3f} {r['rss_total_mib']:>8.0f} {r['rss_per_env_mib']:>7.0f} "
              f"{r['steps_per_s']:>7.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {"tasks": TASKS, "episodes_per_env": args.episodes, "host": platform.node(),
            "cpus": __import__("os").cpu_count(), "time": time.time(),
            "note": "RSS is summed over Chromium's processes (shared pages counted per process)"}
    RESULTS.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
