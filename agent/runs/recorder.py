"""Executed graph steps written as trace rows: the graph's `StepRecorder` for one episode.

`EpisodeRecorder(store, episode_id).record_step(...)` writes the step's search nodes (the
chosen one marked) and its Step row (observation, action, reward, the decision JSON, info),
each in its own short transaction (traces.store.TraceStore). A step replayed after a crash
mid-step may be written twice; each row's info says which attempt wrote it.
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
        self.store.add_nodes(self.episode_id, nodes, step_index=index)
        self.store.add_step(self.episode_id, index=index, observation=observation,
                            action=action, reward=reward, terminated=terminated,
                            truncated=truncated, error=error, decision=decision, info=info,
                            wall_time_s=wall_time_s)
