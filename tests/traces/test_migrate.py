"""Schema versions: a hand-made version-0 database is migrated (in a copy, or in place with
a backup); newer or foreign databases are refused with a clear message."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from worldplan.agent.cli.app import app
from worldplan.traces import aggregates, query
from worldplan.traces.engine import SchemaVersionError, make_engine
from worldplan.traces.migrate import detect_version, open_db
from worldplan.traces.replay import render_episode
from worldplan.traces.report import write_report
from worldplan.traces.schema import SCHEMA_VERSION
from worldplan.traces.store import call_cache_key

V0_DDL = """
CREATE TABLE run (id INTEGER PRIMARY KEY, name VARCHAR, kind VARCHAR, status VARCHAR,
  env VARCHAR, strategy VARCHAR, model VARCHAR, config JSON, started_at FLOAT,
  ended_at FLOAT);
CREATE TABLE episode (id INTEGER PRIMARY KEY, run_id INTEGER REFERENCES run(id),
  task_id VARCHAR, seed INTEGER, status VARCHAR, strategy VARCHAR, answer TEXT,
  reference TEXT, reward FLOAT, success BOOLEAN, prompt_tokens INTEGER,
  completion_tokens INTEGER, info JSON, started_at FLOAT, ended_at FLOAT);
CREATE TABLE step (id INTEGER PRIMARY KEY, episode_id INTEGER REFERENCES episode(id),
  "index" INTEGER, observation TEXT, action TEXT, reward FLOAT);
CREATE TABLE searchnode (id INTEGER PRIMARY KEY, episode_id INTEGER, key VARCHAR,
  parent_key VARCHAR, kind VARCHAR, text TEXT, score FLOAT);
CREATE TABLE llmcall (id INTEGER PRIMARY KEY, run_id INTEGER, episode_id INTEGER,
  role VARCHAR, endpoint VARCHAR, model VARCHAR, prompt TEXT, completions JSON,
  params JSON, n INTEGER, prompt_tokens INTEGER, completion_tokens INTEGER,
  latency_s FLOAT, error TEXT, started_at FLOAT);
INSERT INTO run VALUES (1, 'old', 'math', 'completed', 'math', 'beam', 'm', '{"budget": 4}',
  100.0, 160.0);
INSERT INTO episode VALUES (1, 1, 'p0', 0, 'completed', 'beam', '7', '7', 1.0, 1, 30, 12,
  '{"level": 2}', 100.0, 130.0);
INSERT INTO episode VALUES (2, 1, 'p1', 0, 'running', 'beam', '', '3', NULL, NULL, 0, 0,
  '{"level": 5}', 130.0, NULL);
INSERT INTO step VALUES (1, 1, 0, 'What is 3+4?', '7', 1.0);
INSERT INTO searchnode VALUES (1, 1, 'a', NULL, 'proposal', 'old <b>node</b>', 0.8);
INSERT INTO searchnode VALUES (2, 1, 'a.1', 'a', 'partial', 'child', 0.6);
INSERT INTO llmcall VALUES (1, 1, 1, 'proposer', 'chat', 'm', 'What is 3+4?', '["7"]',
  '{"n": 1, "max_tokens": 8}', 1, 30, 12, 0.5, '', 101.0);
INSERT INTO llmcall VALUES (2, 1, 2, 'proposer', 'chat', 'm', 'What is 1+2?', '["3"]',
  '{"n": 1, "max_tokens": 8}', 1, 20, 4, 0.5, '', 131.0);
"""


def make_v0(path: Path) -> Path:
    with sqlite3.connect(path) as c:
        c.executescript(V0_DDL)
    return path


def test_v0_is_read_through_a_migrated_copy_and_left_untouched(tmp_path: Path) -> None:
    path = make_v0(tmp_path / "old.db")
    before = path.read_bytes()
    opened = open_db(str(path))
    assert opened.found_version == 0 and "migrated copy" in opened.note
    assert path.read_bytes() == before
    with pytest.raises(SchemaVersionError):  # the writer refuses it, clearly
        make_engine(str(path), create=False)
    eng = opened.engine
    assert detect_version(eng) == SCHEMA_VERSION
    [run] = query.runs(eng)
    assert (run.episodes, run.successes, run.accuracy, run.budget) == (2, 1, 1.0, 4)
    assert (run.prompt_tokens, run.completion_tokens, run.llm_calls) == (50, 16, 2)
    eps = query.episodes(eng, 1)
    assert eps[1].status == "running" and eps[1].prompt_tokens == 20  # from its calls
    assert [g.key for g in aggregates.table_by(eng, 1, "level")] == ["2", "5"]
    detail = query.episode_detail(eng, 1)
    assert detail.steps[0].decision == {} and [n.key for n in detail.nodes] == ["a", "a.1"]
    console = Console(record=True, width=120)
    console.print(render_episode(detail))
    out = console.export_text()
    assert "What is 3+4?" in out and "old <b>node</b>" in out and "child" in out
    html = write_report(eng, [1], tmp_path / "r.html").path.read_text()
    assert "old &lt;b&gt;node&lt;/b&gt;" in html
    from sqlalchemy import text
    with eng.connect() as c:
        key = c.execute(text("SELECT cache_key FROM llmcall WHERE id = 1")).scalar_one()
    assert key == call_cache_key("chat", "m", "What is 3+4?", {"n": 1, "max_tokens": 8})


def test_migrate_in_place_keeps_a_backup(tmp_path: Path) -> None:
    path = make_v0(tmp_path / "old.db")
    r = CliRunner().invoke(app, ["migrate", str(path)])
    assert r.exit_code == 0, r.output
    assert Path(str(path) + ".v0.bak").exists()
    eng = make_engine(str(path), create=False)  # the writer now accepts it
    assert detect_version(eng) == SCHEMA_VERSION
    r = CliRunner().invoke(app, ["migrate", str(path)])
    assert r.exit_code == 0 and "already" in r.output


def test_cli_reads_an_old_database_with_a_note(tmp_path: Path) -> None:
    path = make_v0(tmp_path / "old.db")
    r = CliRunner().invoke(app, ["runs", "--db", str(path)])
    assert r.exit_code == 0, r.output
    assert "schema version 0" in r.output and "old" in r.output
    r = CliRunner().invoke(app, ["replay", "1", "--db", str(path)])
    assert r.exit_code == 0 and "What is 3+4?" in r.output


def test_newer_and_foreign_databases_are_refused_clearly(tmp_path: Path) -> None:
    newer = tmp_path / "new.db"
    make_engine(str(newer)).dispose()
    with sqlite3.connect(newer) as c:
        c.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SchemaVersionError, match="version 99, newer than this worldplan"):
        open_db(str(newer))
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as c:
        c.execute("CREATE TABLE users (id INTEGER)")
    with pytest.raises(SchemaVersionError, match="not a worldplan trace database"):
        open_db(str(foreign))
    r = CliRunner().invoke(app, ["runs", "--db", str(newer)])
    assert r.exit_code == 1 and "newer than this worldplan" in r.output
    broken = tmp_path / "broken.db"
    with sqlite3.connect(broken) as c:
        c.executescript("CREATE TABLE run (name TEXT); CREATE TABLE episode (x INT);"
                        "CREATE TABLE llmcall (y INT);")
    with pytest.raises(SchemaVersionError, match="cannot be migrated"):
        open_db(str(broken))
    with pytest.raises(FileNotFoundError):
        open_db(str(tmp_path / "missing.db"))
