"""A dataset of web transitions (page, action, next page) from oracle and random episodes.

`record_transitions(path, plan)` serves the MiniWoB++ pages, starts ONE browser and plays,
one episode at a time, for every task of the plan: oracle episodes (the task's oracle,
`agent.web.scripted.OracleAgent`; tasks without an oracle have none) and random episodes
(`random_action`: an action drawn from those legal on the current page, from a
`random.Random` seeded by task and seed). Every step becomes one `Transition`: task, seed,
step, source, goal, URL path (no host or port: the page server's port changes per run), the
tree text before, the action (canonical action-language string), the tree text after,
reward, the action's error, whether the episode ended, and the episode's step count.

The file is JSON Lines, one transition a line. An episode's lines are written together at
its end, each whole, then flushed and synced. Resumable: episodes (task, seed, source)
already complete in the file are skipped. `read_transitions` keeps complete episodes only
(every step 0..episode_steps-1 present; a step recorded twice keeps its last line) and
reports, never drops silently, lines that are not a whole record (a truncated last line of
a killed run) and incomplete episodes; appending after a truncated line starts a new line
first, so the fragment stays in the file, alone, and nothing written after it is lost.
An episode whose browser crashes is replayed from its seed (up to `attempts` times); an
oracle that cannot plan ends its episode (its steps so far are kept, or none: the episode
is reported and tried again on the next run).
Not handled: several browsers at once (one page at a time keeps a loaded host usable),
LLM agents, scoring a world model (benchmarks/world_model_accuracy.py).
"""

from __future__ import annotations

import json
import os
import random
import string
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

from worldplan.agent.web.scripted import OracleAgent
from worldplan.envs.web.axtree import parse_tree
from worldplan.envs.web.browser import BrowserConfig, BrowserCrashed, BrowserManager
from worldplan.envs.web.core import AsyncWebEnv, EnvConfig
from worldplan.envs.web.oracles import needs_boxes, oracle_for
from worldplan.envs.web.tasks.registry import make_task, miniwob_server

SOURCES = ("oracle", "random")
Key = tuple[str, int, str]  # (task, seed, source): one episode
FILLABLE = frozenset({"textbox", "searchbox", "spinbutton"})
CHECKABLE = frozenset({"checkbox", "radio", "switch", "menuitemcheckbox", "menuitemradio"})
SELECTABLE = frozenset({"combobox", "listbox"})


@dataclass(frozen=True)
class Transition:
    task: str
    seed: int
    step: int  # 0-based index of the action in its episode
    source: str  # "oracle" | "random"
    goal: str
    url: str  # path (and query) of the page before the action, no host or port
    before: str  # accessibility-tree text before the action
    action: str  # the action, as the environment read it (action language)
    after: str  # accessibility-tree text after the action
    reward: float
    error: str  # the action's error ('' when it went through)
    done: bool  # the episode ended with this step (terminated or truncated)
    episode_steps: int  # transitions in this episode

    @property
    def key(self) -> Key:
        return (self.task, self.seed, self.source)


@dataclass(frozen=True)
class RecordPlan:
    tasks: tuple[str, ...]
    oracle_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    random_seeds: tuple[int, ...] = tuple(range(10))
    random_steps: int = 6  # actions per random episode (fewer when it ends)
    max_steps: int = 20  # actions per oracle episode at most
    attempts: int = 3  # tries of an episode whose browser crashed


@dataclass
class TransitionFile:
    transitions: list[Transition]  # complete episodes, in file order of their first line
    bad_lines: list[int] = field(default_factory=list)  # 1-based: not a whole record
    incomplete: list[Key] = field(default_factory=list)

    @property
    def complete(self) -> set[Key]:
        return {t.key for t in self.transitions}


@dataclass
class RecordSummary:
    episodes: int = 0  # recorded by this run
    transitions: int = 0  # written by this run
    skipped: int = 0  # episodes already complete in the file
    failed: list[tuple[Key, str]] = field(default_factory=list)  # episodes with no record
    no_oracle: list[str] = field(default_factory=list)  # tasks without oracle episodes
    bad_lines: list[int] = field(default_factory=list)  # of the file before this run


_KEYS = {f.name for f in fields(Transition)}


def read_transitions(path: Path) -> TransitionFile:
    """The file's complete episodes (see the module docstring); a missing file is empty."""
    out = TransitionFile([])
    episodes: dict[Key, dict[int, Transition]] = {}
    last: dict[Key, int] = {}
    if not path.exists():
        return out
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                if not isinstance(d, dict) or set(d) != _KEYS:
                    raise ValueError("not a transition")
                t = Transition(**d)
            except ValueError:
                out.bad_lines.append(number)
                continue
            episodes.setdefault(t.key, {})[t.step] = t
            last[t.key] = t.episode_steps
    for key, steps in episodes.items():
        if last[key] > 0 and all(i in steps for i in range(last[key])):
            out.transitions += [steps[i] for i in range(last[key])]
        else:
            out.incomplete.append(key)
    return out


def append_episode(path: Path, rows: Sequence[Transition]) -> None:
    """Append an episode's lines in one write, flushed and synced; a file that ends inside
    a line (a killed run) gets a newline first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as f:
        f.seek(0, os.SEEK_END)
        start = b""
        if f.tell() > 0:
            f.seek(-1, os.SEEK_END)
            start = b"" if f.read(1) == b"\n" else b"\n"
        text = "".join(json.dumps(asdict(t), ensure_ascii=False) + "\n" for t in rows)
        f.write(start + text.encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())


def _text(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(("Bob", "hello", "42", "yes", "Submit", "2016-05-01", "a"))
    return "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(1, 8)))


def random_action(axtree: str, rng: random.Random) -> str:
    """An action legal on this page: a kind drawn among those the page allows (click any
    element with a ref; fill a text field; check a checkbox or radio; select an option of
    a list), then an element of that kind, then (fill) a random short text."""
    nodes = parse_tree(axtree)
    kinds: dict[str, list[str]] = {"click": [], "fill": [], "check": [], "select_option": []}
    for i, n in enumerate(nodes):
        if not n.ref:
            continue
        kinds["click"].append(f"click({json.dumps(n.ref)})")
        if n.role in FILLABLE:
            kinds["fill"].append(f"fill({json.dumps(n.ref)}, {json.dumps(_text(rng))})")
        if n.role in CHECKABLE:
            kinds["check"].append(f"check({json.dumps(n.ref)})")
        if n.role in SELECTABLE:
            options = []
            for m in nodes[i + 1:]:
                if m.depth <= n.depth:
                    break
                if m.role == "option" and m.label:
                    options.append(m.label)
            kinds["select_option"] += [f"select_option({json.dumps(n.ref)}, {json.dumps(o)})"
                                       for o in options]
    legal = [k for k, acts in kinds.items() if acts]
    if not legal:
        return "noop()"
    return rng.choice(kinds[rng.choice(legal)])


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def play_episode(env: AsyncWebEnv, task: str, seed: int, source: str,
                       plan: RecordPlan) -> list[Transition]:
    """One episode's transitions; BrowserCrashed when the browser died or hung in it."""
    obs, _ = await env.reset(seed)
    agent = OracleAgent(task) if source == "oracle" else None
    rng = random.Random(f"{task}/{seed}")
    rows: list[Transition] = []
    for step in range(plan.max_steps if agent else plan.random_steps):
        try:
            action = agent.act(obs) if agent else random_action(obs.axtree, rng)
        except Exception:  # the oracle cannot plan from this page: the episode ends here
            if rows:
                break
            raise
        nxt, reward, term, trunc, info = await env.step(action)
        if info.get("browser_crashed"):
            raise BrowserCrashed(str(info.get("crash", "browser crashed")))
        rows.append(Transition(task, seed, step, source, obs.goal, _path(obs.url),
                               obs.axtree, nxt.last_action or action, nxt.axtree,
                               float(reward), nxt.last_action_error, bool(term or trunc), 0))
        obs = nxt
        if term or trunc:
            break
    return [replace(t, episode_steps=len(rows)) for t in rows]


def episodes_of(plan: RecordPlan) -> list[Key]:
    """Every episode of the plan, task by task (oracle episodes only where one exists)."""
    return [(task, seed, source) for task in plan.tasks for source in SOURCES
            for seed in (plan.oracle_seeds if source == "oracle" else plan.random_seeds)
            if source == "random" or oracle_for(task) is not None]


async def record_into(path: Path, plan: RecordPlan, browser: BrowserManager, base_url: str,
                      on_episode: Callable[[Key, int, str], None] | None = None
                      ) -> RecordSummary:
    """Record the plan's episodes not yet complete in `path`, with this browser and page
    server; `on_episode(key, transitions, error)` after each."""
    before = read_transitions(path)
    summary = RecordSummary(bad_lines=before.bad_lines,
                            no_oracle=[t for t in plan.tasks if oracle_for(t) is None])
    todo = [k for k in episodes_of(plan) if k not in before.complete]
    summary.skipped = len(episodes_of(plan)) - len(todo)
    for task in dict.fromkeys(k[0] for k in todo):
        cfg = EnvConfig(max_steps=max(plan.max_steps, plan.random_steps),
                        boxes=needs_boxes([task]))
        env = AsyncWebEnv(make_task(task, base_url), browser, cfg)
        try:
            for key in [k for k in todo if k[0] == task]:
                rows, error = [], ""
                for _attempt in range(plan.attempts):
                    try:
                        rows, error = await play_episode(env, task, key[1], key[2], plan), ""
                        break
                    except BrowserCrashed as e:
                        error = f"browser: {e}"
                    except Exception as e:
                        error = f"{type(e).__name__}: {e}"
                        break
                if rows:
                    append_episode(path, rows)
                    summary.episodes += 1
                    summary.transitions += len(rows)
                else:
                    summary.failed.append((key, error or "no transition"))
                if on_episode is not None:
                    on_episode(key, len(rows), error)
        finally:
            await env.close()
    return summary


async def record_transitions(path: Path, plan: RecordPlan,
                             browser_config: BrowserConfig | None = None,
                             on_episode: Callable[[Key, int, str], None] | None = None
                             ) -> RecordSummary:
    """`record_into` with its own page server and ONE browser."""
    with miniwob_server() as server:
        async with BrowserManager(browser_config) as browser:
            return await record_into(path, plan, browser, server.base_url, on_episode)
