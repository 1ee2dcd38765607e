"""Trace rows written off the event loop, in batches: a writer thread that takes items from
a queue, turns them into rows and commits each batch in one transaction.

`BatchWriter(engine, table, make_row)`: `put(item)` returns at once; the thread turns items
into column dicts with `make_row(item)` and inserts up to `batch` of them per transaction
with one executemany (`insert_rows`: no ORM objects, which cost more than the insert): one
commit per batch, not per row. `flush()` waits until everything put so far is committed and
re-raises, once, what the thread failed on (a locked or corrupt database is an error of the
run, not a silent loss); `close()` flushes and stops the thread. A process killed before a
flush loses the rows still queued: on resume those calls are not in the trace, so they are
asked again (traces.resume), as if the kill had come a little earlier.
Not handled: which rows to write (traces.calls), reading them back before a flush.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

BATCH = 512  # rows per transaction at most

_STOP = object()


def insert_rows(session: Session, table: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """Insert column dicts into `table` in one executemany; a column a row leaves out gets
    the model's default (`id` the database's)."""
    if not rows:
        return
    fields = {k: f for k, f in table.model_fields.items() if k != "id"}
    full = []
    for row in rows:
        unknown = set(row) - set(fields)
        if unknown:
            raise TypeError(f"{table.__name__} has no field(s) {sorted(unknown)}")
        full.append({k: row[k] if k in row else (
            f.default_factory() if f.default_factory is not None  # type: ignore[call-arg]
            else f.default) for k, f in fields.items()})
    session.execute(insert(table), full)


class BatchWriter:
    def __init__(self, engine: Engine, table: type[SQLModel],
                 make_row: Callable[[Any], dict[str, Any]], batch: int = BATCH) -> None:
        self.engine, self.table, self.make_row, self.batch = engine, table, make_row, batch
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
                        insert_rows(s, self.table, [self.make_row(r) for r in rows])
                        s.commit()
            except Exception as e:  # kept for flush(): the caller's error, not the thread's
                self._error = self._error or e
            finally:
                for _ in items:
                    self._queue.task_done()
            if stop:
                return
