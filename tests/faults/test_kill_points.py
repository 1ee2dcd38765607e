"""Kill points the random harness hits rarely, placed exactly: a process SIGKILLs itself at
one chosen line (a wrapped function), and what it leaves behind must open and resume.

- Between creating a new database's `meta` table and writing its version row: the next
  process to open it must finish creating it (it used to wait 25 s for a creator that was
  dead, then refuse the file)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sqlmodel import Session, select

from tests.faults.harness import REPO
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import Meta, Run
from worldplan.traces.store import TraceStore


def killed_at(script: str) -> None:
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == -9, r.stdout + r.stderr


def test_killed_while_creating_the_database_then_opened_again(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    killed_at(f"""
        import os, signal
        from worldplan.traces.schema import Meta
        from worldplan.traces.engine import make_engine
        table = Meta.__table__
        create = type(table).create
        def create_then_die(self, *args, **kwargs):
            create(self, *args, **kwargs)
            if self is table:
                os.kill(os.getpid(), signal.SIGKILL)
        type(table).create = create_then_die
        make_engine({str(db)!r})
    """)
    t0 = time.time()
    store = TraceStore(make_engine(str(db)))
    assert time.time() - t0 < 10  # no wait for a creator that is dead
    run_id = store.start_run(kind="math")
    with Session(store.engine) as s:
        assert s.get(Meta, "schema_version") is not None
        assert [r.id for r in s.exec(select(Run))] == [run_id]
