"""notebooks/analysis.ipynb executed with nbclient on a database from real runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import TOY_CONFIG as CONFIG
from tests.conftest import LLMServer
from tests.fakes import toy_runner
from worldplan.traces.engine import make_engine
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient

pytestmark = [pytest.mark.server, pytest.mark.slow]

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "analysis.ipynb"


def test_notebook_runs_on_a_real_database(real_run: tuple[Path, int], llm_server: LLMServer,
                                          tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    src, _ = real_run
    db = tmp_path / "nb.db"
    engine = make_engine(str(src), create=False)
    with engine.connect() as c:  # a consistent copy (WAL included)
        raw = c.connection.driver_connection
        with sqlite3.connect(db) as dst:
            raw.backup(dst)  # type: ignore[union-attr]
    engine.dispose()
    engine = make_engine(str(db))  # a second real run, with a smaller n: two curve points
    client = LLMClient(llm_server.url, llm_server.model, n_params=llm_server.n_params)
    toy_runner.run_toy(TraceStore(engine), client, {**CONFIG, "n": 1}, name="toy n=1")
    engine.dispose()

    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    monkeypatch.setenv("WORLDPLAN_DB", str(db))
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parents[1])}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) >= 4  # tokens, FLOPs, difficulty bins, levels
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "toy n=1" in html and "best-of-n" in html
    assert "bin 1" in html  # predicted difficulty binned
