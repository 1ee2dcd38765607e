"""Grading a predicted final answer against a reference, on math-verify, safe in any thread.

math-verify's own timeouts use SIGALRM, which only works on the main thread (it raises
`ValueError` elsewhere); with `timeout_seconds=None` it has no timeout at all, and some
inputs (`9^{9^{9^{9}}}`) make sympy compute for ever. So `Grader` runs math-verify in ONE
persistent worker process (a fresh Python running envs/math/grader_worker.py, JSON lines:
never forked from a threaded parent, and the caller's __main__ is not re-imported) and
waits for each answer with a hard timeout (seconds); on timeout it kills the worker, answers
`status="timeout"` (incorrect), and starts a fresh worker on the next call. Inside the worker
math-verify runs on the worker's main thread with its own alarm-based timeout as a first
line of defence. The worker's address space is capped (RLIMIT_AS) so a pathological answer
cannot eat the machine's memory. Calls are serialised by a lock: safe from any thread.

Fast path: equal canonical strings (envs.math.answer.normalize_answer) are correct without
the worker. Results are cached per (prediction, reference).

Not handled: grading whole solutions (extract the answer first), Windows.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from worldplan.envs.math.answer import normalize_answer

WORKER = Path(__file__).resolve().with_name("grader_worker.py")  # a standalone script
STARTUP_TIMEOUT_S = 120.0  # importing sympy on a busy machine can take a while

Status = Literal["ok", "timeout", "error", "no_answer"]


@dataclass(frozen=True)
class Grade:
    correct: bool
    status: Status
    detail: str = ""


class Grader:
    """Equivalence of final answers with a hard timeout (seconds), usable from any thread.

    Args:
        timeout_s: hard limit per comparison, including parsing (seconds).
        memory_mb: address-space cap of the worker (MiB); None for no cap.
        cache_size: how many (prediction, reference) results to remember.
        inner_timeout_s: math-verify's own (SIGALRM) timeout inside the worker (seconds);
            default timeout_s - 1. It often, not always, stops sympy earlier and more
            cheaply than killing the worker.
    """

    def __init__(self, timeout_s: float = 10.0, memory_mb: int | None = 4096,
                 cache_size: int = 10_000, inner_timeout_s: int | None = None) -> None:
        self.timeout_s = timeout_s
        self.inner_timeout_s = inner_timeout_s or max(1, int(timeout_s) - 1)
        self.memory_bytes = memory_mb * 2**20 if memory_mb else None
        self.cache_size = cache_size
        self._cache: dict[tuple[str, str], Grade] = {}
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._finalizer: weakref.finalize | None = None

    def grade(self, pred: str | None, gold: str) -> Grade:
        """Is the predicted final answer equivalent to the reference answer?"""
        if pred is None or not pred.strip():
            return Grade(False, "no_answer", "no final answer found")
        if normalize_answer(pred) == normalize_answer(gold):
            return Grade(True, "ok", "same canonical string")
        key = (pred, gold)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            grade = self._ask(pred, gold)
            if grade.status != "timeout":
                if len(self._cache) >= self.cache_size:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = grade
            return grade

    def _ask(self, pred: str, gold: str) -> Grade:
        proc = self._ensure_worker()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps({"pred": pred, "gold": gold}) + "\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], self.timeout_s)
            if not ready:
                self._kill()
                return Grade(False, "timeout", f"no verdict within {self.timeout_s:g} s")
            line = proc.stdout.readline()
            reply = json.loads(line)
        except (OSError, ValueError) as e:
            self._kill()
            return Grade(False, "error", f"grader worker failed ({type(e).__name__}: {e})")
        detail = str(reply.get("detail", ""))
        return Grade(bool(reply.get("correct")), "ok" if not detail else "error", detail)

    def _ensure_worker(self) -> subprocess.Popen[str]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._kill()
        env = dict(os.environ)
        env["WORLDPLAN_GRADER_MEMORY"] = str(self.memory_bytes or 0)
        env["WORLDPLAN_GRADER_INNER_TIMEOUT"] = str(self.inner_timeout_s)
        proc = subprocess.Popen([sys.executable, "-I", str(WORKER)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                env=env, bufsize=1)
        self._proc = proc
        self._finalizer = weakref.finalize(self, _stop, proc)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], STARTUP_TIMEOUT_S)
        if not ready or "ready" not in proc.stdout.readline():
            self._kill()
            raise RuntimeError(f"the grader worker did not start within {STARTUP_TIMEOUT_S} s "
                               "(is math-verify installed in this Python?)")
        return proc

    def _kill(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._proc, self._finalizer = None, None

    def __deepcopy__(self, memo: dict[int, object]) -> Grader:
        return self  # a shared service (gymnasium.make deep-copies its kwargs)

    def close(self) -> None:
        """Stop the worker process (a later call starts a new one)."""
        with self._lock:
            self._kill()

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()
