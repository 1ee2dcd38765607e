"""The rows the read side of the trace database returns: runs, episodes and their detail.

Plain frozen dataclasses (no pandas); `rows_as_dicts` turns any list of them (these, or the
aggregates of traces.aggregates) into dicts for CSV/Parquet or a DataFrame. Tokens are
counts, FLOPs estimates, times seconds.
Not handled: reading them from the database (traces.query), grouping them
(traces.aggregates).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunRow:
    id: int
    name: str
    kind: str
    status: str  # as stored, or "interrupted" when the process died without closing it
    env: str
    strategy: str
    model: str
    budget: Any  # Run.config["budget"], if any
    episodes: int
    finished: int  # episodes with a known success
    successes: int
    accuracy: float | None  # successes / finished
    prompt_tokens: int
    completion_tokens: int
    flops: float
    llm_calls: int
    wall_time_s: float  # ended (or last heartbeat) minus started
    started_at: float


@dataclass(frozen=True)
class EpisodeRow:
    id: int
    run_id: int
    task_id: str
    seed: int | None
    status: str
    level: str
    subject: str
    difficulty: float | None
    difficulty_source: str
    strategy: str
    answer: str
    reference: str
    reward: float | None
    success: bool | None
    prompt_tokens: int
    completion_tokens: int
    flops: float
    llm_calls: int
    wall_time_s: float
    error: str

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class StepRow:
    index: int
    observation: str
    action: str
    reward: float
    terminated: bool
    truncated: bool
    error: str
    decision: dict[str, Any]
    info: dict[str, Any]
    wall_time_s: float


@dataclass(frozen=True)
class NodeRow:
    step_index: int
    key: str
    parent_key: str | None
    kind: str
    text: str
    answer: str
    score: float | None
    scores: list[float]
    depth: int
    tokens: int
    chosen: bool
    info: dict[str, Any]


@dataclass(frozen=True)
class CallRow:
    id: int
    role: str
    endpoint: str
    model: str
    prompt: str
    completions: list[str]
    n: int
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    error: str
    tags: dict[str, Any]


@dataclass(frozen=True)
class EpisodeDetail:
    episode: EpisodeRow
    steps: list[StepRow]
    nodes: list[NodeRow]
    calls: list[CallRow]


def rows_as_dicts(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Any list of these dataclasses as a list of dicts (for CSV, Parquet, DataFrames)."""
    return [dataclasses.asdict(r) if dataclasses.is_dataclass(r) and not isinstance(r, type)
            else dict(r) for r in rows]
