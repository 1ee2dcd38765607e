"""Terminal replay of an episode (rich): each step's observation, candidates, imagined
outcomes, verifier scores, the controller's decision and why, the chosen action, tokens and
time; the search tree drawn with `rich.tree`.

Model-written text is shown as plain text (`rich.text.Text`, never parsed as console markup)
and long strings are cut to `max_chars`. Works on unfinished episodes of interrupted runs.
Not handled: interactive stepping (the whole episode is printed; page it with `less -R`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from worldplan.traces.rows import EpisodeDetail, NodeRow, StepRow

DECISION_KEYS = ("difficulty", "budget_left", "allowance", "strategy", "route", "why",
                 "reason", "params")  # shown first, in this order


def _cut(s: str, max_chars: int) -> str:
    s = s if isinstance(s, str) else json.dumps(s, ensure_ascii=False)
    return s if len(s) <= max_chars else s[: max_chars - 1] + "…"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def build_tree(nodes: Sequence[NodeRow], title: str = "search tree",
               max_chars: int = 80) -> Tree:
    """The flat node records as a rich Tree (orphans hang from the root)."""
    tree = Tree(Text(title, style="bold"))
    keys = {n.key for n in nodes}
    children: dict[str | None, list[NodeRow]] = defaultdict(list)
    for n in nodes:
        parent = n.parent_key if n.parent_key in keys else None
        children[parent].append(n)

    def label(n: NodeRow) -> Text:
        t = Text()
        t.append("★ " if n.chosen else "", style="bold green")
        t.append(f"[{n.kind or 'node'}] ", style="cyan")
        if n.score is not None:
            t.append(f"score {n.score:.3f} ", style="yellow")
        if n.tokens:
            t.append(f"{n.tokens} tok ", style="dim")
        if n.answer:
            t.append(f"answer {_cut(n.answer, 40)!r} ", style="magenta")
        t.append(_cut(" ".join(n.text.split()), max_chars))
        return t

    def add(branch: Tree, parent: str | None, seen: set[str]) -> None:
        for n in children.get(parent, []):
            if n.key in seen:  # a cycle in corrupt data: show once
                continue
            seen.add(n.key)
            add(branch.add(label(n)), n.key, seen)

    add(tree, None, set())
    return tree


def _decision_table(decision: dict[str, Any]) -> Table:
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()
    keys = [k for k in DECISION_KEYS if k in decision] + sorted(
        k for k in decision if k not in DECISION_KEYS)
    for k in keys:
        t.add_row(k, Text(_cut(_fmt(decision[k]), 300)))
    return t


def _candidates_table(nodes: Sequence[NodeRow], max_chars: int) -> Table:
    t = Table(title="candidates", expand=True)
    for col in ("", "kind", "candidate / imagined outcome", "answer", "score", "tokens"):
        t.add_column(col)
    for n in nodes:
        scores = n.scores[:6]
        score = "" if n.score is None else f"{n.score:.3f}"
        if scores:
            score += " (" + ", ".join(f"{s:.2f}" for s in scores) + ")"
        t.add_row("★" if n.chosen else "", n.kind, Text(_cut(n.text, max_chars)),
                  Text(_cut(n.answer, 40)), score, str(n.tokens))
    return t


def render_step(step: StepRow, nodes: Sequence[NodeRow], detail: EpisodeDetail,
                max_chars: int = 400) -> RenderableType:
    single = len(detail.steps) == 1  # untagged calls belong to a step only when it is alone
    calls = [c for c in detail.calls
             if c.tags.get("step", step.index if single else None) == step.index]
    parts: list[RenderableType] = [
        Panel(Text(_cut(step.observation, max_chars * 3)), title="observation",
              title_align="left")]
    if nodes:
        parts.append(_candidates_table(nodes, max_chars))
        parts.append(build_tree(nodes, f"search tree (step {step.index})"))
    if step.decision:
        parts.append(Panel(_decision_table(step.decision), title="controller decision",
                           title_align="left"))
    action = Text("action: ", style="bold")
    action.append(_cut(step.action, max_chars))
    parts.append(action)
    if step.error:
        parts.append(Text(f"error: {_cut(step.error, max_chars)}", style="red"))
    toks = sum(c.prompt_tokens + c.completion_tokens for c in calls)
    parts.append(Text(
        f"reward {step.reward:g}  terminated {step.terminated}  truncated {step.truncated}  "
        f"{len(calls)} LLM calls, {toks} tokens  {step.wall_time_s:.2f} s", style="dim"))
    return Panel(Group(*parts), title=f"step {step.index}", title_align="left")


def render_episode(detail: EpisodeDetail, max_chars: int = 400) -> RenderableType:
    """The whole episode as one renderable: header, then each step."""
    e = detail.episode
    head = Table(show_header=False, box=None)
    head.add_column(style="bold")
    head.add_column()
    for k, v in (("task", e.task_id), ("seed", e.seed), ("status", e.status),
                 ("level", e.level), ("difficulty", e.difficulty),
                 ("strategy", e.strategy), ("answer", e.answer),
                 ("reference", e.reference), ("reward", e.reward), ("success", e.success),
                 ("tokens", f"{e.prompt_tokens} prompt + {e.completion_tokens} completion"),
                 ("FLOPs", f"{e.flops:.3g}"), ("LLM calls", e.llm_calls),
                 ("wall time", f"{e.wall_time_s:.2f} s"), ("error", e.error)):
        if v not in (None, ""):
            head.add_row(k, Text(_cut(_fmt(v), max_chars)))
    parts: list[RenderableType] = [
        Panel(head, title=f"episode {e.id} of run {e.run_id}", title_align="left")]
    by_step: dict[int, list[NodeRow]] = defaultdict(list)
    for n in detail.nodes:
        by_step[n.step_index].append(n)
    for s in detail.steps:
        parts.append(render_step(s, by_step.pop(s.index, []), detail, max_chars))
    for idx, nodes in sorted(by_step.items()):  # nodes of a step never written (interrupted)
        parts.append(Panel(Group(_candidates_table(nodes, max_chars),
                                 build_tree(nodes, f"search tree (step {idx})")),
                           title=f"step {idx} (unfinished)", title_align="left"))
    if not detail.steps and not detail.nodes:
        parts.append(Text(f"no steps recorded; {len(detail.calls)} LLM calls", style="yellow"))
    return Group(*parts)


def replay(detail: EpisodeDetail, console: Console | None = None, max_chars: int = 400) -> None:
    (console or Console()).print(render_episode(detail, max_chars))
