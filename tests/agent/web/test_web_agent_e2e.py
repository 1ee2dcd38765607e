"""End to end: the real served model and the real browser run MiniWoB++ episodes through
the agent graph with every strategy, and every call is accounted for in the trace.

Kept tiny for CI (2 cores): one task, one seed, one or two steps, small token limits.
Proposals are constrained to the page's legal actions, so none is invalid.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlmodel import Session, select

from worldplan.agent.runs.web_agent import run_web_agent
from worldplan.agent.web.config import AgentClients, WebAgentConfig
from worldplan.agent.web.router import STRATEGIES
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import Episode, LLMCall, Run, SearchNode, Step
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient

BUDGET = 2500  # total tokens an episode: a MiniWoB page prompt is a few hundred


@pytest.mark.server
@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("strategy", [*STRATEGIES, "search+mcts"])
def test_real_model_and_browser_traces_are_complete(strategy: str, llm_url: str,
                                                    tmp_path: Path) -> None:
    store = TraceStore(make_engine(f"sqlite:///{tmp_path / 't.db'}"))
    client = LLMClient(llm_url, timeout_s=300, retries=1)
    strategy, _, search = strategy.partition("+")
    config = WebAgentConfig(strategy=strategy, budget_tokens=BUDGET, max_steps=2, n=2,
                            depth=2, rounds=1, proposer_tokens=12, world_model_tokens=24,
                            search=search or "beam", simulations=2)
    result = asyncio.run(run_web_agent(
        store, tasks=["click-test"], seeds=[0], clients=AgentClients(client, client, client),
        config=config, checkpoint_db=str(tmp_path / "ckpt.sqlite")))
    out = result.outcomes[0]
    assert out.status == "completed", out.error
    with Session(store.engine) as s:
        run = s.get(Run, result.run_id)
        ep = s.exec(select(Episode)).one()
        steps = s.exec(select(Step).order_by(Step.index)).all()  # type: ignore[arg-type]
        nodes = s.exec(select(SearchNode)).all()
        calls = s.exec(select(LLMCall)).all()
    assert run is not None and run.status == "completed" and run.config["summary"]
    # the budget is total tokens: uncached prompt + completion, over every call
    billed = sum(c.prompt_tokens - (c.cached_tokens or 0) + c.completion_tokens for c in calls)
    assert ep.info["budget"]["spent_tokens"] == billed <= BUDGET
    assert 1 <= len(steps) <= 2 or ep.info["stop_reason"] == "budget"
    n_by_role: dict[str, int] = {}
    for c in calls:
        assert c.episode_id == ep.id and c.error == ""
        n_by_role[c.role] = n_by_role.get(c.role, 0) + c.n
    # every sample of every role is in the trace: proposals, imagined states, their scores
    # (equal proposals merge into one node that counts them)
    assert n_by_role["proposer"] == sum(int(n.info.get("count", 1)) for n in nodes
                                        if n.kind in ("proposal", "revision"))
    imagined = [n for n in nodes if n.kind == "imagined_state"]
    # one world-model sample per imagined state (a transposition reuses one; a state whose
    # verifier the budget stopped is kept unjudged); the verifier judges only the samples
    # whose change applied (the others score 0 unjudged)
    shared = sum(n.kind in ("transposition", "unjudged") for n in nodes)
    assert n_by_role.get("world_model", 0) == len(imagined) + shared
    assert n_by_role.get("verifier", 0) <= sum(len(n.scores) for n in imagined)
    assert all(n.score is not None for n in imagined)
    for st in steps:
        assert st.decision["route"] in ("act", "revise", "branch") and st.decision["reason"]
        assert "budget_left" in st.decision and "difficulty" in st.decision
        assert st.observation.startswith("GOAL: ")
        assert not st.error or "not found" not in st.error  # constrained: refs are real
        chosen = [n for n in nodes if n.step_index == st.index and n.chosen]
        assert len(chosen) <= 1
        if st.info.get("prediction"):
            assert 0.0 <= st.info["world_model"]["f1"] <= 1.0
    if strategy == "reactive":
        assert set(n_by_role) == {"proposer"}
    if search == "mcts":  # every imagined state of a branching step records its visits
        branched = {st.index for st in steps if st.decision["route"] == "branch"}
        assert all(n.info.get("visits", 0) >= 1 for n in imagined if n.step_index in branched)
        assert all(st.decision["params"]["simulations"] >= 1 for st in steps
                   if st.decision["route"] == "branch")
