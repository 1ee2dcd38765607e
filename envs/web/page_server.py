"""A local static web server for task pages, bound to 127.0.0.1 on a free port.

MiniWoB++'s flight tasks need http:// (file:// pages cannot talk to their iframes), and one
origin per server gives the safety guard something to confine navigation to. The server
runs `http.server.ThreadingHTTPServer` in a daemon thread; pages are sent with
`Cache-Control: no-store` so a changed file is never served stale.

Not handled here: anything dynamic (user sites with a backend run their own server and are
given to `tasks.site.SiteTask` by URL).
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from typing import Any


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        return

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class PageServer:
    """Serve `root` at http://127.0.0.1:PORT/. Start with `start()` or `with PageServer(...)`."""

    def __init__(self, root: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"no directory to serve at {self.root}")
        self.host, self._port = host, port
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("PageServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """e.g. http://127.0.0.1:41234/ (with the trailing slash)."""
        return f"http://{self.host}:{self.port}/"

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def start(self) -> PageServer:
        if self._httpd is not None:
            return self
        handler = functools.partial(_QuietHandler, directory=str(self.root))
        self._httpd = http.server.ThreadingHTTPServer((self.host, self._port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        name=f"page-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> PageServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
