"""The process the web fault test kills: a web agent run (agent.runs.web_agent) over the
scripted form page (tests.fakes.web.FakeWebEnv) through the real graph, LangGraph
checkpointer and trace store, against the scripted web model at URL.

    python -m tests.faults.web_child DB URL STRATEGY            # a new run
    python -m tests.faults.web_child DB URL --resume RUN_ID     # `worldplan web --resume`

Two tasks x two seeds, two episodes at a time, a token budget per episode.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.fakes.web import FakeWebEnv
from worldplan.agent.runs.web_agent import run_web_agent
from worldplan.agent.runs.web_resume import checkpoint_path, load_web_run
from worldplan.agent.web.config import AgentClients, WebAgentConfig
from worldplan.agent.web.domain import WebEnvLike
from worldplan.traces.engine import make_engine
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient

TASKS, SEEDS = ["form-a", "form-b"], [0, 1]


class FakeEnvs:
    """agent.runs.web_envs.WebEnvs over the scripted page: a fresh page per episode."""

    restarts = 0

    async def __aenter__(self) -> FakeEnvs:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    @asynccontextmanager
    async def episode(self, task: str) -> AsyncIterator[WebEnvLike]:
        yield FakeWebEnv()


def main(argv: list[str]) -> None:
    db, url = argv[0], argv[1]
    store = TraceStore(make_engine(db))
    client = LLMClient(url, model="scripted")
    clients = AgentClients(client, client, client)
    if argv[2] == "--resume":
        spec = load_web_run(store, int(argv[3]))
        asyncio.run(run_web_agent(
            store, tasks=spec.tasks, seeds=spec.seeds, clients=clients, config=spec.config,
            parallel=spec.parallel, checkpoint_db=checkpoint_path(db),
            resume=(spec.run_id, spec.plan), envs=FakeEnvs()))
    else:
        config = WebAgentConfig(strategy=argv[2], n=2, budget_tokens=20_000, max_steps=4)
        asyncio.run(run_web_agent(store, tasks=TASKS, seeds=SEEDS, clients=clients,
                                  config=config, parallel=2, checkpoint_db=checkpoint_path(db),
                                  envs=FakeEnvs()))


if __name__ == "__main__":
    main(sys.argv[1:])
