"""Matplotlib figures of trace tables, and their encoding for a self-contained HTML file.

Each function takes rows from `traces.aggregates` and returns a `matplotlib.figure.Figure`
(built with the object API, no pyplot state, so it is safe in threads and notebooks).
`to_data_uri` turns a figure into a base64 PNG `data:` URI and closes nothing global.
Not handled: interactive plots.
"""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from worldplan.traces.aggregates import CurvePoint, GroupRow

DPI = 90  # fixed margins instead of tight_layout: one draw per figure, not three


def plot_compute(points: Sequence[CurvePoint], x: str = "tokens") -> Figure:
    """Accuracy vs compute per episode: one point per run, one line per strategy label.

    x: "tokens" (prompt + completion), "completion_tokens" or "flops".
    """
    attr = {"tokens": "mean_tokens", "completion_tokens": "mean_completion_tokens",
            "flops": "mean_flops"}[x]
    fig = Figure(figsize=(6, 3.6), dpi=DPI)
    fig.subplots_adjust(left=0.12, right=0.97, top=0.95, bottom=0.15)
    ax = fig.add_subplot()
    lines: dict[str, list[CurvePoint]] = defaultdict(list)
    for p in points:
        if p.accuracy is not None:
            lines[p.label].append(p)
    for label, pts in sorted(lines.items()):
        pts.sort(key=lambda p: getattr(p, attr))
        xs = [getattr(p, attr) for p in pts]
        ys = [p.accuracy or 0.0 for p in pts]  # pts only holds points with an accuracy
        ax.plot(xs, ys, marker="o", label=label)
        for p, xv, yv in zip(pts, xs, ys, strict=True):
            ax.annotate(f"run {p.run_id}", (xv, yv), textcoords="offset points",
                        xytext=(4, 4), fontsize=7)
    if any(getattr(p, attr) > 0 for p in points):
        ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel({"tokens": "tokens per episode", "completion_tokens":
                   "generated tokens per episode", "flops": "FLOPs per episode"}[x])
    ax.set_ylabel("accuracy / success")
    ax.grid(alpha=0.3)
    if lines:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no finished episodes", ha="center", transform=ax.transAxes)
    return fig


def plot_groups(groups: Mapping[str, Sequence[GroupRow]], title: str) -> Figure:
    """Accuracy per group (difficulty bin, level, task) as grouped bars, one colour per run."""
    keys = sorted({g.key for rows in groups.values() for g in rows})
    fig = Figure(figsize=(max(5.0, 0.5 * len(keys) * max(1, len(groups)) + 2), 3.6), dpi=DPI)
    fig.subplots_adjust(left=0.1, right=0.97, top=0.9, bottom=0.2)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(groups))
    for i, (run_label, rows) in enumerate(groups.items()):
        acc = {g.key: g.accuracy for g in rows}
        xs = [k + i * width for k in range(len(keys))]
        ys = [acc.get(k) or 0.0 for k in keys]
        ax.bar(xs, ys, width=width, label=run_label)
    ax.set_xticks([k + width * (len(groups) - 1) / 2 for k in range(len(keys))])
    ax.set_xticklabels(keys, rotation=30 if len(keys) > 6 else 0, fontsize=8, ha="right"
                       if len(keys) > 6 else "center")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("accuracy / success")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    if groups:
        ax.legend(fontsize=7)
    if not keys:
        ax.text(0.5, 0.5, "no data", ha="center", transform=ax.transAxes)
    return fig


def to_data_uri(fig: Figure) -> str:
    """The figure as a base64 PNG data URI (for an <img> in a self-contained page)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
