"""The scripted server's side of the fault tests: which process asked what, and the kill.

`Switch(respond)` wraps a scripted server's respond function (tests.fakes.openai_server): it
counts every request by the cache key the store gives the call (traces.cache.request_key)
per segment (one process's life), and can SIGKILL the segment's process when the segment's
n-th request arrives, after a short seeded delay, so that kills land inside requests and
between them (database writes, grading, checkpoints). A request is counted for the process
that sent it (`watch(server)`: by the client port, through /proc); a killed process's
requests that reach the handler after the kill are `strays`. `ports=False` keys requests
with local ports blanked (the real browser's pages are served on a new port in every
process, and prompts show the page's URL). `wait_idle(server)` waits until a dead process's
requests are all answered or dropped.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.fakes.openai_server import Answer, OpenAIServer, Tokenize
from worldplan.traces.cache import request_key

PORT = re.compile(r"127\.0\.0\.1:\d+")


def port_free(text: str) -> str:
    """Text with local ports blanked: the real browser's page server takes a new port in
    every process, and prompts show the page's URL."""
    return PORT.sub("127.0.0.1:PORT", text)


def key_of(body: dict[str, Any], ports: bool = True) -> str:
    """The cache key the store gives a request's call (`ports` False: ports blanked)."""
    path = "/v1/chat/completions" if "messages" in body else "/v1/completions"
    if not ports:
        body = json.loads(port_free(json.dumps(body)))
    return request_key(path, body)[1]


def owns_port(pid: int, port: int) -> bool | None:
    """Whether process `pid` has the TCP socket bound to local `port` (None: cannot tell,
    no /proc). A request that a killed process sent can reach the server's handler after
    the next process started (a loaded machine): it must not count as the next one's."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            return None
        for row in rows:
            f = row.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{f[9]}]")
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                return True
        except OSError:
            continue
    return False


class Switch:
    """A respond function that counts requests per segment and kills on the n-th.

    Requests are counted for the segment whose process sent them (`watch(server)`: by the
    client port); those of dead processes that arrive late are counted in `strays`."""

    def __init__(self, respond: Callable[[dict[str, Any]], Answer], ports: bool = True) -> None:
        self.respond, self.ports = respond, ports
        self.segments: list[Counter[str]] = [Counter()]
        self.times: list[list[float]] = [[]]  # when each request of a segment arrived
        self.strays = 0  # requests of a dead segment's process that arrived late
        self.server: OpenAIServer | None = None
        self.first = threading.Event()  # the segment's first request arrived
        self._lock = threading.Lock()
        self._kill_at: int | None = None
        self._delay = 0.0
        self._proc: subprocess.Popen[bytes] | None = None

    def begin(self, kill_at: int | None = None, delay_s: float = 0.0) -> None:
        with self._lock:
            self.segments.append(Counter())
            self.times.append([])
            self.first.clear()
            self._kill_at, self._delay, self._proc = kill_at, delay_s, None

    def attach(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc

    def watch(self, server: OpenAIServer) -> OpenAIServer:
        self.server = server
        return server

    def __call__(self, body: dict[str, Any]) -> Answer:
        proc, server = self._proc, self.server
        if proc is not None and server is not None and server.client_port and owns_port(
                proc.pid, server.client_port) is False:
            with self._lock:
                self.strays += 1
            return self.respond(body)
        with self._lock:
            seg = self.segments[-1]
            seg[key_of(body, self.ports)] += 1
            self.times[-1].append(time.time())
            self.first.set()
            fire = self._kill_at is not None and sum(seg.values()) == self._kill_at
            proc = self._proc
        if fire and proc is not None:
            threading.Timer(self._delay, kill, args=(proc,)).start()
        return self.respond(body)


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)


def wait_idle(server: OpenAIServer, quiet_s: float = 0.3, timeout_s: float = 30.0) -> None:
    """Until the server has answered (or dropped) every request of a dead process: nothing
    in flight, and no request for `quiet_s` seconds (on a loaded machine a request sent
    just before the kill can reach the server's handler a while later)."""
    deadline = time.time() + timeout_s
    seen = len(server.requests)
    quiet_since = time.time()
    while time.time() < deadline:
        if server.in_flight or len(server.requests) != seen:
            seen, quiet_since = len(server.requests), time.time()
        elif time.time() - quiet_since >= quiet_s:
            return
        time.sleep(0.01)


@contextmanager
def switched(respond: Callable[[dict[str, Any]], Answer], *, ports: bool = True,
             delay_s: float = 0.01, tokenize: Tokenize | None = None
             ) -> Iterator[tuple[Switch, OpenAIServer, str]]:
    """`respond` behind a Switch that watches its server, served over real HTTP: yields the
    switch, the server and its URL."""
    switch = Switch(respond, ports=ports)
    server = switch.watch(OpenAIServer(switch, tokenize=tokenize))
    with server.serve(delay_s=delay_s) as url:
        yield switch, server, url
