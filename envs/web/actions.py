"""The action language: one function call with literal arguments, parsed, never evaluated.

    click(ref)                 click the element            click("e12") or click(e12)
    fill(ref, text)            replace an input's text      fill(e5, "Jerald")
    select_option(ref, label)  choose a <select> option     select_option(e7, "Blue")
    press(ref, key)            press a key in an element    press(e5, "Enter")
    hover(ref)                 move the mouse over it       hover(e9)
    check(ref)                 tick a checkbox / radio      check(e8)
    scroll(dx, dy)             scroll the page (CSS px)     scroll(0, 200)
    noop()                     do nothing (let time pass)   noop()
    stop(answer)               end the episode              stop("42") or stop()

and the raw input gestures (`INPUT_ACTIONS`), for pages whose parts have no reference
(canvas, SVG shapes, words inside a paragraph) or that react to the mouse and keyboard
themselves. `click_text` clicks the first visible element whose own text is exactly `text`
(a word that is its own element inside a paragraph has no reference).
Coordinates are CSS px of the viewport, as in the observation's `[box=x,y,width,height]`:

    click_at(x, y)             click at a point             click_at(80, 120)
    click_text(text)           click the visible text       click_text("Eget")
    dblclick(ref)              double-click the element     dblclick(e4)
    dblclick_at(x, y)          double-click at a point      dblclick_at(80, 120)
    drag(ref, to)              drag an element onto another drag(e3, e9)
    drag_at(x, y, to_x, to_y)  drag between two points      drag_at(10, 10, 90, 60)
    type(text)                 type into the focused element type("hello")
    key(keys)                  press keys on the focused one key("Control+a")
    wait(ms)                   let the page run (<= 5000)   wait(500)

The text is parsed with Python's `ast` in `eval` mode into exactly one `Call` whose function
is a bare name in `ACTIONS`, whose arguments are string or number literals (a bare name is
accepted for a `ref`, since models often drop the quotes), and whose keywords are the
parameter names above. Nothing is ever executed: the tree is only inspected. Keys for
`press` are checked against an allowlist (see `check_key`).

Errors are `ActionError` with a message meant for the agent (it becomes `last_action_error`).
Not handled here: performing the action (see `dispatch`), extracting an action from chatty
model output (the agent's job).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

MAX_ACTION_CHARS = 2000
MAX_TEXT_CHARS = 1000
REF_RE = re.compile(r"^(?:f\d+)?e\d+$")

# name -> ((parameter, type), ...); "ref" parameters are element references like "e12".
ACTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "click": (("ref", "ref"),),
    "fill": (("ref", "ref"), ("text", "str")),
    "select_option": (("ref", "ref"), ("label", "str")),
    "press": (("ref", "ref"), ("key", "key")),
    "hover": (("ref", "ref"),),
    "check": (("ref", "ref"),),
    "scroll": (("dx", "num"), ("dy", "num")),
    "noop": (),
    "stop": (("answer", "str"),),
}
# Mouse gestures at coordinates or on elements, the keyboard on the focused element, time.
INPUT_ACTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "click_at": (("x", "coord"), ("y", "coord")),
    "click_text": (("text", "str"),),
    "dblclick": (("ref", "ref"),),
    "dblclick_at": (("x", "coord"), ("y", "coord")),
    "drag": (("ref", "ref"), ("to", "ref")),
    "drag_at": (("x", "coord"), ("y", "coord"), ("to_x", "coord"), ("to_y", "coord")),
    "type": (("text", "str"),),
    "key": (("keys", "key"),),
    "wait": (("ms", "ms"),),
}
ALLOWED = {**ACTIONS, **INPUT_ACTIONS}  # the whole language: what the parser accepts
OPTIONAL = {("stop", "answer"): ""}

NAMED_KEYS = frozenset({
    "Enter", "Tab", "Escape", "Backspace", "Delete", "Space", "ArrowUp", "ArrowDown",
    "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown", "Insert",
    *(f"F{i}" for i in range(1, 13)),
})
MODIFIERS = frozenset({"Shift", "Control", "Alt", "Meta", "ControlOrMeta"})
MAX_SCROLL = 10_000  # CSS px per step
MAX_COORD = 10_000  # CSS px: a point of the page is in [0, MAX_COORD]
MAX_WAIT_MS = 5_000  # milliseconds one wait() may let pass


class ActionError(ValueError):
    """An action that cannot be parsed or is not allowed; the message is for the agent."""


@dataclass(frozen=True)
class Action:
    name: str
    args: dict[str, Any]

    def __str__(self) -> str:
        inner = ", ".join(repr(self.args[p]) for p, _ in ALLOWED[self.name])
        return f"{self.name}({inner})"


def usage() -> str:
    return "; ".join(f"{n}({', '.join(p for p, _ in ps)})" for n, ps in ALLOWED.items())


def parse_action(text: str) -> Action:
    """Parse one action call; raise ActionError saying what is wrong."""
    if not isinstance(text, str):
        raise ActionError(f"an action is a string, got {type(text).__name__}")
    src = text.strip()
    if not src:
        raise ActionError(f"empty action; expected one of: {usage()}")
    if len(src) > MAX_ACTION_CHARS:
        raise ActionError(f"action longer than {MAX_ACTION_CHARS} characters")
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError as e:
        raise ActionError(f"cannot parse {src[:80]!r}: {e.msg}; expected e.g. click(\"e12\")")\
            from None
    except (ValueError, RecursionError, MemoryError) as e:  # a lone surrogate, too deep
        raise ActionError(f"cannot parse {src[:80]!r} ({type(e).__name__}); expected e.g. "
                          "click(\"e12\")") from None
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise ActionError(f"expected one call like click(\"e12\"), got {src[:80]!r}")
    name = call.func.id
    if name not in ALLOWED:
        raise ActionError(f"unknown action {name!r}; allowed: {usage()}")
    params = ALLOWED[name]
    if len(call.args) > len(params):
        raise ActionError(f"{name} takes {len(params)} argument(s), got {len(call.args)}")
    values: dict[str, Any] = {}
    for (pname, ptype), node in zip(params, call.args, strict=False):
        values[pname] = _literal(node, name, pname, ptype)
    known = dict(params)
    for kw in call.keywords:
        if kw.arg is None or kw.arg not in known:
            raise ActionError(f"{name} has no parameter {kw.arg!r}")
        if kw.arg in values:
            raise ActionError(f"{name}: {kw.arg} given twice")
        values[kw.arg] = _literal(kw.value, name, kw.arg, known[kw.arg])
    for pname, _ in params:
        if pname not in values:
            if (name, pname) not in OPTIONAL:
                raise ActionError(f"{name} needs {pname}: {name}({', '.join(known)})")
            values[pname] = OPTIONAL[(name, pname)]
    return Action(name, values)


def canonical_action(text: str) -> str:
    """One spelling per action (`str` of the parsed call: quotes, spaces and bare refs
    normalised), so that two texts naming the same action compare equal; text that does not
    parse is returned stripped (it equals no parsed action)."""
    try:
        return str(parse_action(text))
    except ActionError:
        return text.strip()


def _literal(node: ast.expr, action: str, pname: str, ptype: str) -> Any:
    if ptype == "ref" and isinstance(node, ast.Name):
        value: Any = node.id  # a bare reference: click(e12)
    elif isinstance(node, ast.Constant) and not isinstance(node.value, bytes | bool):
        value = node.value
    elif (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd)
          and isinstance(node.operand, ast.Constant)
          and isinstance(node.operand.value, int | float)
          and not isinstance(node.operand.value, bool)):
        value = -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    else:
        raise ActionError(f"{action}: {pname} must be a literal, not an expression")
    if ptype == "ref":
        value = str(value)
        if not REF_RE.match(value):
            raise ActionError(f"{action}: {value[:40]!r} is not an element reference like "
                              "'e12' (use the [ref=...] values of the observation)")
    elif ptype in ("str", "key"):
        if isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str):
            raise ActionError(f"{action}: {pname} must be a string")
        if len(value) > MAX_TEXT_CHARS:
            raise ActionError(f"{action}: {pname} longer than {MAX_TEXT_CHARS} characters")
        if ptype == "key":
            check_key(value, action)
    elif ptype in ("num", "coord", "ms"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            unit = "milliseconds" if ptype == "ms" else "pixels"
            raise ActionError(f"{action}: {pname} must be a number of {unit}")
        if ptype == "num" and abs(value) > MAX_SCROLL:
            raise ActionError(f"{action}: {pname} beyond ±{MAX_SCROLL} px")
        if ptype == "coord" and not 0 <= value <= MAX_COORD:
            raise ActionError(f"{action}: {pname} must be in [0, {MAX_COORD}] px")
        if ptype == "ms" and not 0 <= value <= MAX_WAIT_MS:
            raise ActionError(f"{action}: {pname} must be in [0, {MAX_WAIT_MS}] ms")
    return value


def check_key(key: str, action: str = "press") -> None:
    """Allow a printable character or a named key, with optional modifiers: 'Shift+Tab'."""
    parts = key.split("+") if key != "+" else ["+"]
    *mods, main = parts
    if any(m not in MODIFIERS for m in mods):
        raise ActionError(f"{action}: unknown modifier in {key!r}; allowed: "
                          f"{sorted(MODIFIERS)}")
    if main in NAMED_KEYS or (len(main) == 1 and main.isprintable()):
        return
    raise ActionError(f"{action}: key {key!r} not allowed; use one character or one of "
                      f"{sorted(NAMED_KEYS)}")


def stop_answer(text: str) -> str | None:
    """The answer of a `stop(...)` action, parsed like any action (quotes and escapes
    intact); None when `text` is not a valid stop action."""
    try:
        action = parse_action(text)
    except ActionError:
        return None
    return str(action.args.get("answer", "")) if action.name == "stop" else None
