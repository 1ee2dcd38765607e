"""Read-side tables, terminal replay and run comparison on a hand-made database."""

from __future__ import annotations

import builtins
import csv
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tests.fakes.trace_db import Demo
from worldplan.traces import aggregates, query
from worldplan.traces.compare import compare_runs, export_table
from worldplan.traces.replay import render_episode
from worldplan.traces.rows import EpisodeRow


def test_runs_summary_by_hand(demo: Demo) -> None:
    a, b = query.runs(demo.engine)
    # 6 episodes, one call each: 10 prompt tokens, 5*(k+1) completion tokens, FLOPs 2000/token
    assert (a.episodes, a.finished, a.successes, a.accuracy) == (6, 6, 3, 0.5)
    assert (a.prompt_tokens, a.completion_tokens, a.llm_calls) == (60, 105, 6)
    assert a.flops == pytest.approx(2000 * 165)
    assert (b.successes, b.budget, b.strategy, b.status) == (2, 8, "beam", "completed")


def test_tables_by_level_difficulty_task(demo: Demo) -> None:
    run = demo.runs[0]  # successes on p0 (level 1), p1 (level 2), p2 (level 3)
    by_level = {g.key: (g.episodes, g.successes)
                for g in aggregates.table_by(demo.engine, run, "level")}
    assert by_level == {"1": (2, 1), "2": (2, 1), "3": (2, 1)}
    bins = {g.key: g.successes for g in aggregates.table_by(demo.engine, run, "difficulty")}
    assert bins == {"bin 1": 1, "bin 2": 1, "bin 3": 1, "bin 4": 0, "bin 5": 0}  # k%5+1
    tasks = aggregates.table_by(demo.engine, run, "task")
    assert [t.key for t in tasks] == [f"p{k}" for k in range(6)]
    assert tasks[5].mean_tokens == 10 + 30
    with pytest.raises(ValueError, match="cannot group by"):
        aggregates.table_by(demo.engine, run, "colour")


def test_continuous_difficulty_gets_quantile_bins() -> None:
    rows = [EpisodeRow(k, 1, f"t{k}", 0, "completed", "", "", d, "", "", "", "", None,
                       None, 0, 0, 0.0, 0, 0.0, "")
            for k, d in enumerate([0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.0])]
    bins = aggregates.difficulty_bins(rows)
    assert bins[9] == "bin 1" and bins[1] == "bin 1" and bins[0] == "bin 5"
    assert sorted(bins.values()).count("bin 3") == 2


def test_compute_curve_and_world_model_accuracy(demo: Demo) -> None:
    points = aggregates.compute_curve(query.runs(demo.engine))
    assert {p.label for p in points} == {"best-of-n (demo-model)", "beam (demo-model)"}
    assert all(p.mean_tokens == 165 / 6 for p in points)
    wm = aggregates.world_model_accuracy(demo.engine, demo.runs[0])
    # 6 step scores (3 x 1.0, 3 x 0.0) and 6 imagined states at 0.5
    assert wm.predictions == 12 and wm.mean_score == pytest.approx(0.5)
    assert wm.accuracy == pytest.approx(9 / 12)


def test_replay_shows_everything_and_keeps_markup_literal(demo: Demo) -> None:
    detail = query.episode_detail(demo.engine, demo.episodes[demo.runs[0]][0])
    console = Console(record=True, width=160)
    console.print(render_episode(detail))
    out = console.export_text()
    for needle in ("Problem 0: what is 6*7?", "controller decision", "budget_left",
                   "bin says so", "action: 42", "search tree", "★", "imagined_state",
                   "imagined: [bold]done[/bold]", "15 tokens", "0.900"):
        assert needle in out, needle
    tree_lines = [ln for ln in out.splitlines() if "imagined: [bold]" in ln]
    assert any("└──" in ln for ln in tree_lines)  # the child hangs under its parent


def test_compare_by_hand(demo: Demo, tmp_path: Path) -> None:
    c = compare_runs(demo.engine, *demo.runs)
    # A succeeds on p0,p1,p2; B on p0,p3
    assert (c.matched, c.only_a, c.only_b, c.a_wins, c.b_wins) == (6, 0, 0, 2, 1)
    assert [p.task_id for p in c.differing] == ["p1", "p2", "p3"]
    assert c.same_answer == 3
    rows = list(csv.DictReader(export_table(c.pairs, tmp_path / "pairs.csv").open()))
    assert len(rows) == 6 and rows[1]["differs"] == "answer,success"
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(export_table(c.pairs, tmp_path / "pairs.parquet"))
    assert table.num_rows == 6 and table.column("task_id").to_pylist()[3] == "p3"
    export_table(aggregates.table_by(demo.engine, demo.runs[0], "level"), tmp_path / "lv.csv")
    with pytest.raises(ValueError, match="csv or .parquet"):
        export_table(c.pairs, tmp_path / "pairs.xlsx")


def test_parquet_without_pyarrow_is_a_clear_error(demo: Demo, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_pyarrow(name: str, *a: Any, **k: Any) -> Any:
        if name.startswith("pyarrow"):
            raise ImportError("No module named 'pyarrow'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    c = compare_runs(demo.engine, *demo.runs)
    with pytest.raises(RuntimeError, match="needs pyarrow"):
        export_table(c.pairs, tmp_path / "x.parquet")


def test_world_model_accuracy_reads_the_web_agents_record(tmp_path: Path) -> None:
    from worldplan.traces.engine import make_engine
    from worldplan.traces.store import TraceStore

    engine = make_engine(str(tmp_path / "wm.db"))
    store = TraceStore(engine)
    run = store.start_run(kind="web")
    ep = store.start_episode(run, task_id="click-button")
    for f1, agrees in ((1.0, True), (0.2, True), (0.6, False)):
        store.add_step(ep, info={"world_model": {"f1": f1, "change_agrees": agrees}})
    store.add_step(ep, info={"world_model": None})  # a step without a prediction
    wm = aggregates.world_model_accuracy(engine, run)
    assert wm.predictions == 3 and wm.mean_score == pytest.approx(0.6)
    assert wm.accuracy == pytest.approx(2 / 3)
