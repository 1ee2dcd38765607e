"""`worldplan report`: one self-contained HTML file about one or more runs.

It holds a summary per run, accuracy/success vs compute (tokens and FLOPs), results per
difficulty bin, per level and per task, world-model accuracy where it was scored, a table
of episodes and an episode viewer (steps, controller decisions, candidates, the search tree
as nested lists, LLM calls). Plots are base64 PNGs; the page loads nothing from the network
and runs no script (its Content-Security-Policy forbids both).

Every string from the database goes through Jinja2's autoescaping: model output can hold
`<script>` and stays text. Large runs are cut to `max_rows` episode rows and `max_viewer`
episodes in the viewer per run (failed and interrupted ones first), group tables to 100
rows, and a run of more than 500 distinct tasks gets no per-task table; the page says so.
Not handled: interactive filtering (open the CSV export of `worldplan compare` for that).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy.engine import Engine

from worldplan.traces import aggregates, plots, query
from worldplan.traces.rows import EpisodeRow, NodeRow

TEMPLATE = "report_template.html.j2"
GROUP_ROWS = 100  # rows per group table (per task can be thousands: export those to CSV)
MAX_TASKS = 500  # above this many distinct tasks (each seen ~once) no per-task table or plot


@dataclass(frozen=True)
class ReportResult:
    path: Path
    runs: int
    episodes_listed: int
    episodes_in_viewer: int
    plots: int
    bytes: int


def _tree(nodes: Sequence[NodeRow]) -> list[dict[str, Any]]:
    """Flat node records -> nested dicts {node, children} (orphans become roots)."""
    keys = {n.key for n in nodes}
    children: dict[str | None, list[NodeRow]] = defaultdict(list)
    for n in nodes:
        children[n.parent_key if n.parent_key in keys else None].append(n)

    def build(parent: str | None, seen: set[str]) -> list[dict[str, Any]]:
        out = []
        for n in children.get(parent, []):
            if n.key not in seen:
                seen.add(n.key)
                out.append({"node": n, "children": build(n.key, seen)})
        return out

    return build(None, set())


def _viewer_pick(eps: Sequence[EpisodeRow], k: int) -> list[EpisodeRow]:
    """Up to k episodes: unfinished and failed first, then the rest, in id order."""
    def rank(e: EpisodeRow) -> int:
        return 0 if e.status != "completed" else (1 if e.success is False else 2)
    return sorted(sorted(eps, key=lambda e: e.id), key=rank)[:k]


def _json(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, indent=1, default=str)


def build_context(engine: Engine, run_ids: Sequence[int], *, max_rows: int = 500,
                  max_viewer: int = 25, max_calls: int = 20) -> dict[str, Any]:
    """Everything the template shows, as plain data and data-URI figures."""
    summaries = query.runs(engine, run_ids)
    points = aggregates.compute_curve(summaries)
    per_run: list[dict[str, Any]] = []
    groups: dict[str, dict[str, list[aggregates.GroupRow]]] = {
        "difficulty": {}, "level": {}, "task": {}}
    for s in summaries:
        eps = query.episodes(engine, s.id)
        many_tasks = len({e.task_id for e in eps}) > MAX_TASKS
        tables = {by: [] if by == "task" and many_tasks
                  else aggregates.table_by(engine, s.id, by, eps) for by in groups}
        for by, rows in tables.items():
            if rows:
                groups[by][f"run {s.id}"] = rows
        viewer = []
        for e in _viewer_pick(eps, max_viewer):
            d = query.episode_detail(engine, e.id, e, max_calls)
            steps = []
            for st in d.steps:
                nodes = [n for n in d.nodes if n.step_index == st.index]
                steps.append({"step": st, "nodes": nodes, "tree": _tree(nodes),
                              "decision": _json(st.decision) if st.decision else ""})
            orphan = [n for n in d.nodes if n.step_index not in {st.index for st in d.steps}]
            viewer.append({"ep": e, "steps": steps, "orphan_tree": _tree(orphan),
                           "calls": d.calls, "more_calls": e.llm_calls - len(d.calls)})
        per_run.append({"summary": s, "episodes": eps[:max_rows], "cut": len(eps) - max_rows,
                        "tables": {by: (rows[:GROUP_ROWS], len(rows) - GROUP_ROWS)
                                   for by, rows in tables.items()},
                        "wm": aggregates.world_model_accuracy(engine, s.id), "viewer": viewer})
    figures = []
    if points:
        figures.append(("Accuracy vs tokens per episode", plots.plot_compute(points, "tokens")))
        figures.append(("Accuracy vs FLOPs per episode", plots.plot_compute(points, "flops")))
    titles = {"difficulty": "Accuracy per difficulty bin", "level": "Accuracy per level",
              "task": "Accuracy per task"}
    for by, g in groups.items():
        if g and not (by == "task" and max(len(v) for v in g.values()) > 60):  # legible bars
            figures.append((titles[by], plots.plot_groups(g, titles[by])))
    return {"runs": per_run, "points": points,
            "figures": [(t, plots.to_data_uri(f)) for t, f in figures],
            "generated": time.strftime("%Y-%m-%d %H:%M:%S"), "db": str(engine.url)}


def render(context: dict[str, Any]) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        autoescape=True,  # every {{ value }} is HTML-escaped, whatever its file name
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = _fmt
    return env.get_template(TEMPLATE).render(**context)


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def write_report(engine: Engine, run_ids: Sequence[int], out: Path | str, *,
                 max_rows: int = 500, max_viewer: int = 25) -> ReportResult:
    """Write the report of `run_ids` to `out` (one HTML file)."""
    if not run_ids:
        raise ValueError("name at least one run")
    ctx = build_context(engine, run_ids, max_rows=max_rows, max_viewer=max_viewer)
    html = render(ctx)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return ReportResult(path, len(ctx["runs"]), sum(len(r["episodes"]) for r in ctx["runs"]),
                        sum(len(r["viewer"]) for r in ctx["runs"]), len(ctx["figures"]),
                        len(html.encode()))
