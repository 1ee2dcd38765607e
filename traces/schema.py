"""The trace database's tables (SQLModel): runs, episodes, steps, search nodes, LLM calls.

One row per thing that happened; search trees are flat node records (id, parent_id), never a
nested object. JSON columns hold free-form data (configs, parameters, info dicts). Times are
unix seconds (float), durations seconds, compute in tokens and FLOPs.

`SCHEMA_VERSION` is stored in the `meta` table; `traces.engine` refuses, with a clear message,
to write to a database of another version, and reads older ones where it knows how.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

SCHEMA_VERSION = 1


def _now() -> float:
    return time.time()


class Meta(SQLModel, table=True):
    key: str = Field(primary_key=True)
    value: str


class Run(SQLModel, table=True):
    """One invocation of a command (`worldplan math`, `worldplan web`, a benchmark...)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", index=True)
    kind: str = Field(default="", index=True)  # "math" | "web" | "calibrate" | "bench" | ...
    status: str = Field(default="running", index=True)  # running|completed|failed|interrupted
    env: str = ""
    strategy: str = ""
    model: str = ""
    llm_urls: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    git_commit: str = ""
    versions: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    host: str = ""
    pid: int = 0
    error: str = Field(default="", sa_column=Column(Text))
    started_at: float = Field(default_factory=_now)
    heartbeat_at: float = Field(default_factory=_now)
    ended_at: float | None = None


class Episode(SQLModel, table=True):
    """One task instance: a MATH problem, or one seeded web-task episode."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    env: str = ""
    task_id: str = Field(default="", index=True)
    seed: int | None = None
    status: str = Field(default="running", index=True)  # running|completed|failed|interrupted
    difficulty: float | None = None  # estimated difficulty (bin 1-5, or a continuous score)
    difficulty_source: str = ""  # "oracle" | "predicted" | "learned" | "level" | ""
    strategy: str = ""  # the strategy chosen (by the user, or by the controller)
    answer: str = Field(default="", sa_column=Column(Text))
    reference: str = Field(default="", sa_column=Column(Text))
    reward: float | None = None
    success: bool | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    generations: int = 0
    llm_calls: int = 0
    flops: float = 0.0
    wall_time_s: float = 0.0
    attempts: int = 1  # > 1 when the episode was retried (e.g. after a browser crash)
    info: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    error: str = Field(default="", sa_column=Column(Text))
    started_at: float = Field(default_factory=_now)
    ended_at: float | None = None


class Step(SQLModel, table=True):
    """One step of an episode in the real environment (MATH has one)."""

    id: int | None = Field(default=None, primary_key=True)
    episode_id: int = Field(foreign_key="episode.id", index=True)
    index: int = 0
    observation: str = Field(default="", sa_column=Column(Text))
    action: str = Field(default="", sa_column=Column(Text))
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    error: str = Field(default="", sa_column=Column(Text))
    decision: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    info: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    wall_time_s: float = 0.0
    created_at: float = Field(default_factory=_now)


class SearchNode(SQLModel, table=True):
    """A node of a search tree: flat, linked by parent_id (None for roots)."""

    id: int | None = Field(default=None, primary_key=True)
    episode_id: int = Field(foreign_key="episode.id", index=True)
    step_index: int = 0
    key: str = ""  # the strategy's own id for the node, unique within the episode
    parent_key: str | None = None
    kind: str = ""  # proposal | imagined_state | revision | partial | answer | ...
    text: str = Field(default="", sa_column=Column(Text))
    answer: str = ""
    score: float | None = None
    scores: list[float] = Field(default_factory=list, sa_column=Column(JSON))
    depth: int = 0
    tokens: int = 0
    chosen: bool = False
    info: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class LLMCall(SQLModel, table=True):
    """One request to a model server, failed ones included."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, foreign_key="run.id", index=True)
    episode_id: int | None = Field(default=None, foreign_key="episode.id", index=True)
    role: str = ""  # proposer | world_model | verifier | probe
    endpoint: str = ""  # chat | completions
    url: str = ""
    model: str = ""
    prompt: str = Field(default="", sa_column=Column(Text))
    completions: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    finish_reasons: list[str | None] = Field(default_factory=list, sa_column=Column(JSON))
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))  # logprobs...
    n: int = 1
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int | None = None
    latency_s: float = 0.0
    flops: float | None = None
    error: str = Field(default="", sa_column=Column(Text))
    cache_key: str = Field(default="", index=True)  # hash of (endpoint, prompt, params)
    tags: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    started_at: float = Field(default_factory=_now)
