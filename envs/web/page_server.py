"""A local static web server for task pages, bound to 127.0.0.1 on a free port, in its own
process.

MiniWoB++'s flight tasks need http:// (file:// pages cannot talk to their iframes), and one
origin per server gives the safety guard something to confine navigation to. The server is
`http.server.ThreadingHTTPServer` in a child Python process (this file run as a script, so
the child imports nothing but the standard library), so serving pages never competes with
the agent's own event loop for the interpreter lock; the child prints its port, and exits
when told to or when its parent goes away (its stdin closes).

Caching is the caller's choice (`cache_control`, the Cache-Control header of every reply):
the default `no-store` suits a user's site under development (a changed file is never
served stale); `STATIC` (a long max-age) suits files that cannot change during a run, such
as the `miniwob` wheel's pages, so that Chromium compiles core.js, d3 and jQuery once.
Every reply carries Last-Modified, so a revalidation is a 304.

Not handled here: anything dynamic (user sites with a backend run their own server and are
given to `tasks.site.SiteTask` by URL).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

NO_STORE = "no-store"
STATIC = "public, max-age=86400"  # one day: the wheel's files do not change during a run
START_TIMEOUT_S = 30.0  # seconds for the child to report its port
# Text is served as UTF-8 (the wheel's pages are UTF-8 and none declares a charset; without
# one Chromium reads them as windows-1252, and unicode-test's "ÖK" shows as "Ã–K").
TEXT_TYPES = {".html": "text/html", ".htm": "text/html", ".js": "text/javascript",
              ".css": "text/css", ".json": "application/json", ".txt": "text/plain"}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    cache_control = NO_STORE
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      **{ext: f"{kind}; charset=utf-8" for ext, kind in TEXT_TYPES.items()}}

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        return

    def end_headers(self) -> None:
        self.send_header("Cache-Control", self.cache_control)
        super().end_headers()


class PageServer:
    """Serve `root` at http://127.0.0.1:PORT/. Start with `start()` or `with PageServer(...)`."""

    def __init__(self, root: str | Path, host: str = "127.0.0.1", port: int = 0, *,
                 cache_control: str = NO_STORE) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"no directory to serve at {self.root}")
        self.host, self._port = host, port
        self.cache_control = cache_control
        self._proc: subprocess.Popen[str] | None = None
        self._bound: int | None = None

    @property
    def port(self) -> int:
        if self._bound is None:
            raise RuntimeError("PageServer is not started")
        return self._bound

    @property
    def pid(self) -> int | None:
        """The server process's pid while it runs."""
        return self._proc.pid if self._proc is not None else None

    @property
    def base_url(self) -> str:
        """e.g. http://127.0.0.1:41234/ (with the trailing slash)."""
        return f"http://{self.host}:{self.port}/"

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def start(self) -> PageServer:
        if self._proc is not None:
            return self
        cmd = [sys.executable, "-S", str(Path(__file__).resolve()), str(self.root),
               "--host", self.host, "--port", str(self._port),
               "--cache-control", self.cache_control]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        line = _read_line(proc.stdout, START_TIMEOUT_S)
        if not line.strip().isdigit():
            proc.kill()
            proc.wait(5)
            raise RuntimeError(f"the page server did not start (said {line!r})")
        self._proc, self._bound = proc, int(line)
        return self

    def stop(self) -> None:
        proc, self._proc, self._bound = self._proc, None, None
        if proc is None:
            return
        try:
            assert proc.stdin is not None
            proc.stdin.close()  # the child exits when its stdin closes
            proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait(5)
        finally:
            if proc.stdout is not None:
                proc.stdout.close()

    def __enter__(self) -> PageServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:
        if getattr(self, "_proc", None) is not None and self._proc is not None:
            self._proc.kill()


def _read_line(stream: IO[str] | None, timeout_s: float) -> str:
    out: list[str] = []
    if stream is None:
        return ""
    reader = threading.Thread(target=lambda: out.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    return out[0] if out else ""


def serve(root: str, host: str, port: int, cache_control: str) -> None:
    """The child's main: serve until stdin closes (the parent stopped us or died)."""
    handler = type("Handler", (_QuietHandler,), {"cache_control": cache_control})
    httpd = http.server.ThreadingHTTPServer(
        (host, port), functools.partial(handler, directory=root))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    print(httpd.server_address[1], flush=True)
    sys.stdin.read()  # blocks until EOF
    os._exit(0)  # nothing to flush; serve_forever's poll would add half a second


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="serve a directory on 127.0.0.1")
    ap.add_argument("root")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cache-control", default=NO_STORE)
    a = ap.parse_args()
    serve(a.root, a.host, a.port, a.cache_control)
