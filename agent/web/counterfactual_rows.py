"""The counterfactual file: what `worldplan web-controller collect` measured, as JSON Lines.

Three kinds of record, one a line, each with its `kind`:
- `BaseRecord` ("base"): a task's seeded episode run reactively: its real actions, the page
  seen before each step (`pages`: a hash of the prompt text, so a restored state can be
  checked against it), reward, success;
- `StateRecord` ("state"): a sampled step of that episode, restored by reset and replay:
  its n proposals (the candidate records) and their difficulty features
  (agent.web.difficulty.step_features), measured once for every arm;
- `ArmRecord` ("arm"): one route arm (agent.web.arms) taken at that state, then the episode
  continued reactively to its end: success, reward, the arm's tokens (uncached prompt +
  completion, and completion alone), the continuation's, wall seconds.
Token counts are the server's usage figures; the unit is said beside each field.

`CounterfactualFile(path)`: `read()` gives what is done (keyed for resumption) and reports,
never drops, lines that are not a whole record (a killed run's truncated last line);
`append(record)` writes one whole line, flushed and synced, starting a new line first if
the file ends mid-line (the fragment stays in the file, alone).
Not handled: collecting (agent.runs.web_counterfactual), fitting (agent.web.controller_fit).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

StateKey = tuple[str, int, int]  # task, seed, step
ArmKey = tuple[str, int, int, str]  # task, seed, step, arm key


def page_hash(prompt: str) -> str:
    """A short hash of a page's prompt text (what the proposer saw)."""
    return hashlib.sha256(prompt.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class BaseRecord:
    task: str
    seed: int
    actions: list[str]  # the real actions, in order
    pages: list[str]  # page_hash of the page before each action
    reward: float
    success: bool
    tokens: int  # completion tokens of the whole episode (tokens)
    wall_s: float  # seconds
    stop: str  # done | max_steps | budget
    kind: str = "base"


@dataclass(frozen=True)
class StateRecord:
    task: str
    seed: int
    step: int  # actions taken before this state
    features: dict[str, float]  # agent.web.difficulty.step_features of the n proposals
    candidates: list[dict[str, Any]]  # the proposals (flat node records)
    page: str  # page_hash of the restored page
    restored: bool  # the restored page is the base episode's page at this step
    probe_tokens: int  # completion tokens of the n proposals (tokens)
    kind: str = "state"

    @property
    def key(self) -> StateKey:
        return (self.task, self.seed, self.step)


@dataclass(frozen=True)
class ArmRecord:
    task: str
    seed: int
    step: int
    arm: str  # agent.web.arms.Arm.key
    route: str  # the arm's route and settings, as named
    params: dict[str, int]
    allowance: int  # tokens the arm's search could generate
    features: dict[str, float]  # the state's (copied, so each row stands alone)
    success: bool  # the episode succeeded after the arm and the reactive continuation
    reward: float
    arm_tokens: int  # the arm's search: uncached prompt + completion tokens
    arm_completion_tokens: int  # the arm's search: completion tokens
    continuation_tokens: int  # the continuation: uncached prompt + completion tokens
    continuation_completion_tokens: int
    continuation_steps: int
    wall_s: float  # the arm's step and the continuation (seconds)
    action: str  # what the arm executed
    base_action: str  # what the base episode executed at this step
    ran: dict[str, Any] = field(default_factory=dict)  # route and params after fitting
    restored: bool = True  # the page before the arm's action was the base episode's
    model: str = ""
    kind: str = "arm"

    @property
    def key(self) -> ArmKey:
        return (self.task, self.seed, self.step, self.arm)


Record = BaseRecord | StateRecord | ArmRecord
KINDS: dict[str, type[BaseRecord] | type[StateRecord] | type[ArmRecord]] = {
    "base": BaseRecord, "state": StateRecord, "arm": ArmRecord}


def record_of(d: Any) -> Record:
    """A record from its JSON object (ValueError if it is not one)."""
    if not isinstance(d, dict) or d.get("kind") not in KINDS:
        raise ValueError(f"not a counterfactual record: {str(d)[:80]!r}")
    cls = KINDS[d["kind"]]
    names = {f.name for f in fields(cls)}
    try:
        return cls(**{k: v for k, v in d.items() if k in names})
    except TypeError as e:
        raise ValueError(f"{d['kind']} record: {e}") from e


@dataclass
class Collected:
    """What a counterfactual file holds (the last line of a key wins)."""

    bases: dict[tuple[str, int], BaseRecord] = field(default_factory=dict)
    states: dict[StateKey, StateRecord] = field(default_factory=dict)
    arms: dict[ArmKey, ArmRecord] = field(default_factory=dict)
    bad_lines: list[int] = field(default_factory=list)  # 1-based: not a whole record
    truncated: bool = False  # the last line is cut short (a killed writer)

    def report(self) -> str:
        """One line on the lines that were not read ('' when all were)."""
        if not self.bad_lines:
            return ""
        cut = " (the last one cut short: a killed run)" if self.truncated else ""
        return (f"{len(self.bad_lines)} line(s) not a whole record, left in the file and "
                f"not counted as done{cut}: line(s) {self.bad_lines[:10]}")


class CounterfactualFile:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def read(self) -> Collected:
        out = Collected()
        if not self.path.exists():
            return out
        text = self.path.read_text()
        lines = text.split("\n")
        for i, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rec = record_of(json.loads(line))
            except ValueError:  # json.JSONDecodeError too
                out.bad_lines.append(i)
                out.truncated = out.truncated or i == len(lines)
                continue
            if isinstance(rec, BaseRecord):
                out.bases[(rec.task, rec.seed)] = rec
            elif isinstance(rec, StateRecord):
                out.states[rec.key] = rec
            else:
                out.arms[rec.key] = rec
        return out

    def append(self, record: Record) -> None:
        """One whole line, flushed and synced (a new line first after a cut-short one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(asdict(record), sort_keys=True) + "\n"
        with self.path.open("a+b") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = "\n" + line
            f.write(line.encode())
            f.flush()
            os.fsync(f.fileno())
