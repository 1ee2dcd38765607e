"""Trace commands: `worldplan runs`, `replay`, `report`, `compare`, `rerun`, `migrate`.

Thin Typer commands over traces.query / replay / report / compare / migrate and
agent.runs.rerun. Every command reads the database given by --db (default $WORLDPLAN_DB, else
runs/worldplan.db); an older-schema database is read through a migrated copy (a note says
so) and `worldplan migrate DB` upgrades the file itself. Errors (no database, an empty,
corrupt, truncated, locked or foreign one, a newer schema, an unknown run) are one red line
and exit code 1, never a traceback (agent.cli.common.exit_on_failure). Plain command
functions, registered in agent.cli.app.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import Engine

from worldplan.agent.cli.common import DB_HELP, exit_on_failure, print_error
from worldplan.agent.runs.rerun import rerun_from_cache
from worldplan.traces import query
from worldplan.traces.compare import compare_runs, export_table
from worldplan.traces.engine import check_writable, default_db_url, make_engine
from worldplan.traces.migrate import open_db
from worldplan.traces.replay import replay as render_replay
from worldplan.traces.report import write_report


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 200, highlight=False)


@contextmanager
def _opened(db: str | None) -> Iterator[Engine]:
    """Open the database for reading; turn expected failures into a clear exit."""
    url = db or default_db_url()
    with exit_on_failure(db=url):
        opened = open_db(url)
    if opened.note:
        Console(stderr=True, highlight=False).print(Text(f"note: {opened.note}", style="yellow"))
    try:
        with exit_on_failure((KeyError, ValueError, RuntimeError, LookupError, OSError), db=url):
            yield opened.engine
    finally:
        opened.engine.dispose()


def _f(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}g}"


def runs_command(
    db: str = typer.Option(None, "--db", help=DB_HELP),
    csv: Path = typer.Option(None, "--csv", help="Also export the table to this CSV file."),
    parquet: Path = typer.Option(None, "--parquet", help="Also export it to Parquet."),
) -> None:
    """List the runs: status, model, env, strategy, episodes, accuracy, tokens, wall time."""
    with _opened(db) as engine:
        rows = query.runs(engine)
        table = Table("run", "name", "kind", "status", "model", "env", "strategy", "budget",
                      "episodes", "accuracy", "tokens", "FLOPs", "calls", "wall time (s)",
                      title=f"{len(rows)} runs")
        for r in rows:
            table.add_row(str(r.id), Text(r.name), r.kind, r.status, Text(r.model),
                          Text(r.env), Text(r.strategy), Text(str(r.budget or "")),
                          f"{r.finished}/{r.episodes}", _f(r.accuracy),
                          str(r.prompt_tokens + r.completion_tokens), _f(r.flops),
                          str(r.llm_calls), f"{r.wall_time_s:.1f}")
        _console().print(table)
        for path in (csv, parquet):
            if path is not None:
                _console().print(f"wrote {export_table(rows, path)}")


def replay_command(
    run: int = typer.Argument(..., help="Run id."),
    episode: int = typer.Option(None, "--episode", "-e", help="Episode id (default: first)."),
    max_chars: int = typer.Option(400, help="Cut long texts to this many characters."),
    db: str = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Step through an episode: observations, candidates, scores, decisions, the tree."""
    with _opened(db) as engine:
        eps = query.episodes(engine, run)
        query.run_config(engine, run)  # KeyError for an unknown run
        if not eps:
            raise KeyError(f"run {run} has no episodes")
        ids = [e.id for e in eps]
        if episode is not None and episode not in ids:
            raise KeyError(f"episode {episode} is not in run {run} (its episodes: "
                           f"{ids[:20]}{'...' if len(ids) > 20 else ''})")
        console = _console()
        if episode is None:
            console.print(f"run {run}: {len(ids)} episodes {ids[:20]}"
                          f"{'...' if len(ids) > 20 else ''}; showing {ids[0]} "
                          "(choose with --episode)")
        render_replay(query.episode_detail(engine, episode if episode is not None else ids[0]),
             console, max_chars)


def report_command(
    run_ids: list[int] = typer.Argument(..., help="Run ids."),
    output: Path = typer.Option(Path("report.html"), "-o", "--output", help="HTML file."),
    max_viewer: int = typer.Option(25, help="Episodes per run in the episode viewer."),
    max_rows: int = typer.Option(500, help="Episode rows per run in the tables."),
    db: str = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Write one self-contained HTML report (plots, tables, episode viewer)."""
    with _opened(db) as engine:
        res = write_report(engine, run_ids, output, max_rows=max_rows, max_viewer=max_viewer)
    _console().print(f"wrote {res.path} ({res.bytes / 1e6:.2f} MB: {res.runs} runs, "
                     f"{res.plots} plots, {res.episodes_in_viewer} episodes in the viewer)")


def compare_command(
    run_a: int = typer.Argument(..., help="First run id."),
    run_b: int = typer.Argument(..., help="Second run id."),
    csv: Path = typer.Option(None, "--csv", help="Export every pair to this CSV file."),
    parquet: Path = typer.Option(None, "--parquet", help="Export every pair to Parquet."),
    show: int = typer.Option(30, help="Differing pairs to print."),
    db: str = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Two runs on the same problems side by side, and where they differ."""
    with _opened(db) as engine:
        c = compare_runs(engine, run_a, run_b)
        console = _console()
        console.print(
            f"run {run_a} vs run {run_b}: {c.matched} matched, {c.only_a} only in {run_a}, "
            f"{c.only_b} only in {run_b}; same answer {c.same_answer}; {run_a} wins "
            f"{c.a_wins}, {run_b} wins {c.b_wins}; tokens {c.tokens_a} vs {c.tokens_b}; "
            f"accuracy {_f(c.run_a.accuracy)} vs {_f(c.run_b.accuracy)}")
        diff = c.differing
        table = Table("task", "seed", "differs", f"answer {run_a}", f"answer {run_b}",
                      f"ok {run_a}", f"ok {run_b}", f"tokens {run_a}", f"tokens {run_b}",
                      title=f"{len(diff)} pairs differ")
        for p in diff[:show]:
            table.add_row(Text(p.task_id), str(p.seed), p.differs, Text(p.answer_a[:60]),
                          Text(p.answer_b[:60]), str(p.success_a), str(p.success_b),
                          str(p.tokens_a), str(p.tokens_b))
        console.print(table)
        for path in (csv, parquet):
            if path is not None:
                console.print(f"wrote {export_table(c.pairs, path)}")


def rerun_command(
    run: int = typer.Argument(..., help="Run id."),
    from_cache: bool = typer.Option(False, "--from-cache",
                                    help="Answer every LLM request from the stored calls."),
    db: str = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Re-execute a run from its stored LLM responses into a new run, and compare."""
    if not from_cache:
        print_error("only --from-cache re-execution is supported: pass --from-cache")
        raise typer.Exit(2)
    url = db or default_db_url()
    with exit_on_failure(db=url):  # refuses an older schema, saying to migrate it
        engine = make_engine(url, create=False)
    try:
        with exit_on_failure((KeyError, LookupError), db=url):
            check_writable(engine)  # the new run is written: a locked database fails here
            res = rerun_from_cache(engine, run)
    finally:
        engine.dispose()
    console = _console()
    console.print(f"rerun of run {run} from the cache -> run {res.new_run or '(none)'}: "
                  f"{res.calls_served} calls served, {res.calls_unused} unused")
    if res.identical:
        console.print("identical: the same decisions and results")
        return
    console.print(Text("DIFFERENT:", style="bold red"))
    for d in res.differences:
        console.print(Text(f"  {d}"))
    raise typer.Exit(1)


def migrate_command(db: str = typer.Argument(..., help="Trace database file to upgrade in place.")
            ) -> None:
    """Upgrade an older trace database to this schema version (a backup is kept)."""
    with exit_on_failure(db=db):
        opened = open_db(db, in_place=True)
    opened.engine.dispose()
    _console().print(opened.note or f"{db} is already at the current schema version")
