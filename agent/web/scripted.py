"""The agent protocol for web episodes, and two agents that need no model.

An agent is anything with `act(observation) -> str` (or an awaitable of `str`): it gets a
`WebObservation` and answers one action of the action language (see `actions`). Agents are
made per episode by an `AgentFactory(task_name, seed) -> Agent`, so they may keep memory.

- `OracleAgent` plays the task's oracle plan (see `oracles`); after the plan it stops (a
  reactive oracle is asked for the next plan instead, and stops by answering nothing).
- `RandomAgent` picks a random allowed action on a random element reference of the latest
  observation (seeded: same seed, same choices), a baseline and a fuzzer of the action path.

LLM agents live with the strategies (agent package); they satisfy the same protocol.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import numpy as np

from worldplan.envs.web.axtree import parse_tree
from worldplan.envs.web.observation import WebObservation
from worldplan.envs.web.oracles import cheat, oracle_for


class Agent(Protocol):
    def act(self, observation: WebObservation) -> str | Awaitable[str]: ...


AgentFactory = Callable[[str, int], Agent]


class OracleAgent:
    def __init__(self, task: str) -> None:
        oracle = oracle_for(task)
        if oracle is None:
            raise KeyError(f"no oracle for {task!r}")
        self.task, self.oracle = task, oracle
        self.plan: list[str] | None = None
        self.memo: dict[str, Any] = {}  # a reactive oracle's memory for the episode

    def act(self, observation: WebObservation) -> str:
        if self.plan is None or (not self.plan and self.oracle.reactive):
            self.plan = cheat(self.task, observation, self.memo)
        return self.plan.pop(0) if self.plan else 'stop("")'


class RandomAgent:
    WORDS = ("hello", "Submit", "42", "yes", "a")
    KEYS = ("Enter", "Tab", "ArrowDown", "a", "Backspace")

    def __init__(self, seed: int = 0, p_stop: float = 0.0) -> None:
        self.rng = np.random.default_rng(seed)
        self.p_stop = p_stop

    def act(self, observation: WebObservation) -> str:
        nodes = [n for n in parse_tree(observation.axtree) if n.ref]
        if self.p_stop and self.rng.random() < self.p_stop:
            return 'stop("")'
        if not nodes:
            return "noop()" if self.rng.random() < 0.5 else "scroll(0, 100)"
        ref = nodes[int(self.rng.integers(len(nodes)))].ref
        kind = int(self.rng.integers(7))
        word = self.WORDS[int(self.rng.integers(len(self.WORDS)))]
        if kind <= 2:
            return f'click("{ref}")'
        if kind == 3:
            return f'fill("{ref}", "{word}")'
        if kind == 4:
            return f'press("{ref}", "{self.KEYS[int(self.rng.integers(len(self.KEYS)))]}")'
        if kind == 5:
            return f'check("{ref}")'
        return f'hover("{ref}")'


def make_agent_factory(kind: str) -> AgentFactory:
    """`oracle` or `random`; LLM strategies plug in their own factories."""
    if kind == "oracle":
        return lambda task, seed: OracleAgent(task)
    if kind == "random":
        return lambda task, seed: RandomAgent(seed)
    raise KeyError(f"unknown agent {kind!r}; built in: oracle, random")
