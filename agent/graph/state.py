"""The agent graph's state: plain JSON-serialisable values, so checkpoints and replays are
clean. Search trees are flat node records (dicts with the fields of traces.schema.SearchNode:
key, parent_key, kind, text, answer, score, scores, depth, tokens, chosen, info).

Fields replaced at every step: `observation`, `candidates`, `difficulty`, `decision`,
`chosen`. Fields that accumulate (reducer `operator.add`): `nodes` (every search node of the
episode), `history` (one record per real step: action, reward, decision, world-model
accuracy) and `actions` (the actions executed in the real environment, in order: what a
resumed episode replays to rebuild the page).

Not held here: models, the environment, the budget, the trace store (the runtime context,
agent.graph.nodes.AgentContext); the budget's spending is mirrored in `spent` so that a
resumed episode continues from what it had spent.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


class StepDecision(TypedDict, total=False):
    route: str  # act | revise | branch
    reason: str
    difficulty: float | None  # bin 1 (easy) .. 5 (hard), None when not estimated
    budget_left: int | None  # generated tokens left in the episode when deciding
    allowance: int | None  # generated tokens this step may spend
    params: dict[str, Any]  # width, depth, beam, rounds, samples...


class AgentState(TypedDict, total=False):
    kind: str  # "web" | "math"
    task: str
    goal: str
    seed: int
    step: int  # real steps taken so far
    max_steps: int
    observation: dict[str, Any]  # web: WebObservation texts; math: {"problem": ...}
    candidates: list[dict[str, Any]]  # this step's proposals (flat node records)
    difficulty: dict[str, Any]  # {"bin": float | None, "signals": {...}}
    decision: StepDecision
    chosen: dict[str, Any]  # {"action", "key", "score", "prediction"}
    nodes: Annotated[list[dict[str, Any]], operator.add]
    history: Annotated[list[dict[str, Any]], operator.add]
    actions: Annotated[list[str], operator.add]
    spent: dict[str, int]  # budget spent so far: generations, tokens, prompt_tokens, calls
    reward: float
    done: bool
    stop_reason: str  # done | max_steps | budget | crashed
    answer: str
    info: dict[str, Any]


def initial_state(*, kind: str, task: str, seed: int, max_steps: int,
                  goal: str = "") -> AgentState:
    return AgentState(kind=kind, task=task, goal=goal, seed=seed, step=0, max_steps=max_steps,
                      observation={}, candidates=[], difficulty={}, decision={}, chosen={},
                      nodes=[], history=[], actions=[], spent={}, reward=0.0, done=False,
                      stop_reason="", answer="", info={})
