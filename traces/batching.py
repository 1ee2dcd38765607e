"""Trace rows written off the event loop, in batches: a writer thread that takes items from
a queue, turns them into rows and commits each batch in one transaction.

`BatchWriter(engine, make_row)`: `put(item)` returns at once; the thread builds rows with
`make_row(item)` and commits up to `batch` rows per transaction (one commit per batch, not
per row: the difference between ~2 ms and ~20 us per LLM call on SQLite). `flush()` waits
until everything put so far is committed and re-raises, once, what the thread failed on (a
locked or corrupt database is an error of the run, not a silent loss); `close()` flushes and
stops the thread. A process killed before a flush loses the rows still queued: on resume
those calls are not in the trace, so they are asked again (traces.resume), as if the kill
had come a little earlier.
Not handled: which rows to write (traces.calls), reading them back before a flush.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

BATCH = 512  # rows per transaction at most

_STOP = object()


class BatchWriter:
    def __init__(self, engine: Engine, make_row: Callable[[Any], SQLModel],
                 batch: int = BATCH) -> None:
        self.engine, self.make_row, self.batch = engine, make_row, batch
        self._queue: queue.Queue[Any] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="trace-writer", daemon=True)
        self._thread.start()

    def put(self, item: Any) -> None:
        if not self._thread.is_alive():
            raise RuntimeError("the trace writer is closed")
        self._queue.put(item)

    def flush(self) -> None:
        self._queue.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise RuntimeError(f"writing trace rows failed: {error}") from error

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self.flush()

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            while len(items) < self.batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(i is _STOP for i in items)
            rows = [i for i in items if i is not _STOP]
            try:
                if rows:
                    with Session(self.engine) as s:
                        s.add_all([self.make_row(r) for r in rows])
                        s.commit()
            except Exception as e:  # kept for flush(): the caller's error, not the thread's
                self._error = self._error or e
            finally:
                for _ in items:
                    self._queue.task_done()
            if stop:
                return
