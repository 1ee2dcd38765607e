"""BrowserGym's MiniWoB++ environment, timed on the tasks of benchmarks/web_env.py.

Run by benchmarks/web_env.py with the python of a SEPARATE virtual environment that has
`browsergym-miniwob` (it pins its own Playwright; nothing of it is imported here by
worldplan). It serves the `miniwob` wheel's html/ directory on 127.0.0.1 (MINIWOB_URL),
drives Debian's Chromium (its Playwright's `launch` gets `executable_path`), and per episode
times `reset(seed)` and two steps in BrowserGym's own action language: `noop()` and a click
on the task's submit button (its bid read from the observation's accessibility tree). It
prints one JSON line: reset and step median and p90 (seconds), episodes, host.

    /tmp/bgym-venv/bin/python benchmarks/browsergym_miniwob.py --html HTML_DIR --tasks ...
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import platform
import re
import statistics
import threading
import time


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--html", required=True)
    ap.add_argument("--tasks", nargs="+", required=True)
    ap.add_argument("--episodes", type=int, default=3)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(Quiet, directory=args.html))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    os.environ["MINIWOB_URL"] = f"http://127.0.0.1:{httpd.server_address[1]}/miniwob/"

    import browsergym.miniwob  # noqa: F401 - registers the environments
    import gymnasium as gym
    from browsergym.utils.obs import flatten_axtree_to_str
    from playwright.sync_api import BrowserType

    launch = BrowserType.launch

    def with_chromium(self: BrowserType, **kw: object) -> object:
        # BrowserGym launches two browsers per reset (the task's and a chat window's); both
        # must be Debian's Chromium, Playwright's own cannot be downloaded here
        kw.setdefault("executable_path", args.chromium)
        kw.setdefault("chromium_sandbox", False)
        return launch(self, **kw)  # type: ignore[arg-type]

    BrowserType.launch = with_chromium  # type: ignore[method-assign,assignment]

    resets: list[float] = []
    steps: list[float] = []
    for task in args.tasks:
        env = gym.make(f"browsergym/miniwob.{task}")
        for seed in range(args.episodes):
            t = time.perf_counter()
            obs, _ = env.reset(seed=seed)
            resets.append(time.perf_counter() - t)
            tree = flatten_axtree_to_str(obs["axtree_object"])
            m = re.search(r"\[(\w+)\] button '(?:Submit|Login)'", tree)
            for action in ("noop()", f"click('{m.group(1)}')" if m else "noop()"):
                t = time.perf_counter()
                env.step(action)
                steps.append(time.perf_counter() - t)
        env.close()
    httpd.shutdown()
    print(json.dumps({
        "tasks": args.tasks, "episodes": len(resets), "steps": len(steps),
        "reset_median_s": statistics.median(resets), "reset_p90_s": pct(resets, 0.9),
        "step_median_s": statistics.median(steps), "step_p90_s": pct(steps, 0.9),
        "host": platform.node(), "load_after": os.getloadavg()[0],
        "note": "one environment; steps are noop() and a click on the submit button",
    }))


if __name__ == "__main__":
    main()
