"""Serve an httpx-style handler (request -> response) over real HTTP on 127.0.0.1.

For tests that need a real socket: the CLI (which builds its own client from --llm-url),
a subprocess that is killed mid-run, and the PRM adapter's HTTP contract. Control flow only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

Handler = Callable[[httpx.Request], httpx.Response]


@contextmanager
def serve(handler: Handler, delay_s: float = 0.0) -> Iterator[str]:
    """Run `handler` behind a threaded HTTP server; yields its base URL."""
    lock = threading.Lock()

    class _H(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            req = httpx.Request(self.command, f"http://test{self.path}", content=body,
                                headers=dict(self.headers))
            if delay_s:
                threading.Event().wait(delay_s)
            with lock:  # scripted handlers are not thread-safe
                resp = handler(req)
            data = resp.read()
            self.send_response(resp.status_code)
            self.send_header("Content-Type", resp.headers.get("content-type", "application/json"))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _handle
        do_POST = _handle

        def log_message(self, *args: object) -> None:
            pass

    class _Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that went away (a killed process) is not the test's business

    server = _Server(("127.0.0.1", 0), _H)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
