"""One-shot oracles that need the raw input actions: points of the viewport (read from the
observation's `[box=...]`), drags, the keyboard on the focused element, and time.

Each plans the whole episode from its first observation (see `oracle_kit`); all of them
need `EnvConfig(boxes=True)` except the keyboard and timing ones.
Not handled: gestures whose targets the tree does not show (SVG shapes, canvas drawings).
"""

from __future__ import annotations

import re

from worldplan.envs.web.axtree import AxNode, find
from worldplan.envs.web.observation import WebObservation
from worldplan.envs.web.oracle_kit import (
    Oracle,
    OracleUnavailable,
    Plan,
    box,
    center,
    nth,
    once,
    one,
    submit,
)


def _numbers(nodes: list[AxNode]) -> list[tuple[float, AxNode]]:
    return [(float(n.label), n) for n in nodes
            if n.ref and n.role == "generic" and re.fullmatch(r"-?\d+", n.label.strip())]


def ascending_numbers(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    """The numbers hide after the first click: click where each one was."""
    return [f"click_at{center(n)}" for _, n in sorted(_numbers(nodes), key=lambda v: v[0])]


def grid_coordinate(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.search(r"\((-?\d+),(-?\d+)\)", obs.goal)
    if m is None:
        raise OracleUnavailable(f"no coordinate in {obs.goal!r}")
    ticks = _numbers(nodes)  # the x axis' labels share a row, the y axis' a column
    rows: dict[float, list[AxNode]] = {}
    for _, n in ticks:
        rows.setdefault(box(n)[1], []).append(n)
    x_axis = max(rows.values(), key=len)
    y_axis = [n for _, n in ticks if n not in x_axis]
    zero = next((n for n in x_axis if n.label.strip() == "0"), None)
    xs = {int(n.label): center(n)[0] for n in x_axis}
    ys = {int(n.label): center(n)[1] for n in y_axis}
    if zero is not None:
        xs.setdefault(0, center(zero)[0])
    ys.setdefault(0, round(sum(ys.values()) / len(ys)) if ys else 0)
    x, y = int(m.group(1)), int(m.group(2))
    if x not in xs or y not in ys:
        raise OracleUnavailable(f"no axis label for ({x},{y})")
    return [f"click_at({xs[x]}, {ys[y]})"]


def resize_textarea(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    x, y, w, h = box(find(nodes, "textbox")[0])
    grow = 20 if "larger" in obs.goal else -20
    dx, dy = (grow, 0) if "width" in obs.goal else (0, grow)
    cx, cy = round(x + w - 3), round(y + h - 3)  # the resize handle, bottom right
    return [f"drag_at({cx}, {cy}, {cx + dx}, {cy + dy})", submit(nodes)]


def highlight_text(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    paras = find(nodes, "paragraph") or [n for n in nodes if n.ref and n.role == "generic"
                                         and n.text and n.name == ""]
    if not paras:
        raise OracleUnavailable("no paragraph to highlight")
    target = paras[nth(obs.goal)] if re.search(r"\d(st|nd|rd|th)", obs.goal) else paras[-1]
    x, y, w, h = box(target)
    return [f"drag_at({round(x)}, {round(y + 4)}, {round(x + w)}, {round(y + h - 2)})",
            submit(nodes)]


def scroll_text_2(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    area = find(nodes, "textbox")[0]
    dy = -5000 if "top" in obs.goal else 5000
    return [f'hover("{area.ref}")', f"scroll(0, {dy})", submit(nodes)]


def copy_paste(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    """Select all in the text area, copy, paste into the empty box (exact text kept)."""
    boxes = find(nodes, "textbox")
    areas, empty = [b for b in boxes if b.label], [b for b in boxes if not b.label]
    if not areas or not empty:
        raise OracleUnavailable("no text to copy or no box to paste into")
    src = areas[nth(obs.goal)] if re.search(r"\d(st|nd|rd|th)", obs.goal) else areas[0]
    return [f'click("{src.ref}")', 'key("Control+a")', 'key("Control+c")',
            f'click("{empty[0].ref}")', 'key("Control+v")', submit(nodes)]


def button_delay(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.search(r"wait (\d+) second", obs.goal)
    if m is None:
        raise OracleUnavailable(f"unexpected goal {obs.goal!r}")
    return [f'click("{one(nodes, "button", "ONE")}")', f"wait({int(m.group(1)) * 1000})",
            f'click("{one(nodes, "button", "TWO")}")']


def drag_box(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    small = next(n for n in nodes if n.ref and n.label.strip() == "s")
    large = next(n for n in nodes if n.ref and n.label.strip() == "L")
    return [f'drag("{small.ref}", "{large.ref}")', submit(nodes)]


def _target_index(goal: str, i: int, n: int) -> int:
    """drag-items' destinations: the Nth position, the top, the bottom, one up or down."""
    if "to the top" in goal:
        return 0
    if "to the bottom" in goal:
        return n - 1
    if "up by one" in goal:
        return i - 1
    if "down by one" in goal:
        return i + 1
    return nth(goal)


def drag_items(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.search(r"Drag (\S+) ", obs.goal)
    if m is None:
        raise OracleUnavailable(f"unexpected goal {obs.goal!r}")
    items = find(nodes, "listitem")
    names = [next((c.label for c in nodes[nodes.index(i) + 1:] if c.label), "") for i in items]
    i = names.index(m.group(1))
    src, dst = items[i], items[_target_index(obs.goal, i, len(items))]
    sx, sy = center(src)
    x, y, w, h = box(dst)
    # past the target's middle, on the side the item moves to, so the list makes room
    ty = round(y + h * 0.75) if box(src)[1] < y else round(y + h * 0.25)
    return [f"drag_at({sx}, {sy}, {round(x + w / 2)}, {ty})"]


_GRID = {"top left": 1, "top center": 2, "top right": 3, "center left": 4, "center": 5,
         "center right": 6, "bottom left": 7, "bottom center": 8, "bottom right": 9}
_MOVES = {"up": -3, "down": 3, "left": -1, "right": 1}


def drag_items_grid(obs: WebObservation, nodes: list[AxNode]) -> Plan:
    m = re.search(r"Drag (\S+) (?:to the (.+?)|(up|down|left|right) by one)\.", obs.goal)
    if m is None:
        raise OracleUnavailable(f"unexpected goal {obs.goal!r}")
    items = find(nodes, "listitem")
    names = [next((c.label for c in nodes[nodes.index(i) + 1:] if c.label), "") for i in items]
    i = names.index(m.group(1))
    j = _GRID[m.group(2)] - 1 if m.group(2) else i + _MOVES[m.group(3)]
    (sx, sy), (tx, ty) = center(items[i]), center(items[j])

    def past(a: float, b: float) -> int:  # a little beyond the target, moving from a to b
        return round(b + (8 if b > a else -8 if b < a else 0))

    return [f"drag_at({sx}, {sy}, {past(sx, tx)}, {past(sy, ty)})"]


POINTER: dict[str, Oracle] = {
    **{name: once(fn, boxes=True) for name, fn in {
        "ascending-numbers": ascending_numbers,
        "grid-coordinate": grid_coordinate,
        "resize-textarea": resize_textarea,
        "highlight-text": highlight_text,
        "highlight-text-2": highlight_text,
        "drag-items": drag_items,
        "drag-items-grid": drag_items_grid,
    }.items()},
    "scroll-text-2": once(scroll_text_2),
    "copy-paste": once(copy_paste),
    "copy-paste-2": once(copy_paste),
    "button-delay": once(button_delay),
    "drag-box": once(drag_box),
}
