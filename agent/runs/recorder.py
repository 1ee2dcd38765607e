"""Executed graph steps written as trace rows: the graph's `StepRecorder` for one episode.

`EpisodeRecorder(store, episode_id).record_step(...)` writes the step's search nodes (the
chosen one marked) and its Step row (observation, action, reward, the decision JSON, info)
in one short transaction (traces.store.TraceStore.put_step). A step replayed after a crash
mid-step (a resumed process re-running a node that was not checkpointed) replaces the rows
written for it before: each step is stored once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worldplan.traces.store import TraceStore


@dataclass(frozen=True)
class EpisodeRecorder:
    store: TraceStore
    episode_id: int

    def record_step(self, index: int, *, nodes: list[dict[str, Any]], observation: str,
                    action: str, reward: float, terminated: bool, truncated: bool, error: str,
                    decision: dict[str, Any], info: dict[str, Any],
                    wall_time_s: float) -> None:
        self.store.put_step(self.episode_id, index, nodes, observation=observation,
                            action=action, reward=reward, terminated=terminated,
                            truncated=truncated, error=error, decision=decision, info=info,
                            wall_time_s=wall_time_s)
