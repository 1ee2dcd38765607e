"""Oracle solvers reach reward 1.0 over 5 seeds in the real browser, traces in SQLite.

The plans are action strings: they go through the parser, dispatcher, guard and the
task's reward reading exactly like an agent's, so this also proves the action space. The
pages show element boxes (some oracles click at coordinates); the partial oracles
(`envs.web.oracles.PARTIAL`) are measured by benchmarks/oracle_sweep.py, not here.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from worldplan.agent.runs.web_episodes import run_suite
from worldplan.agent.web.scripted import make_agent_factory
from worldplan.envs.web.core import EnvConfig
from worldplan.envs.web.host import WebHost
from worldplan.envs.web.oracles import ORACLES
from worldplan.envs.web.tasks.registry import make_task
from worldplan.traces.schema import Episode, Step
from worldplan.traces.store import TraceStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SEEDS = range(5)


def test_oracles_solve_their_tasks(web_host: WebHost, store: TraceStore) -> None:
    host = web_host
    assert len(ORACLES) >= 10
    tasks = [make_task(name, host.base_url) for name in sorted(ORACLES)]
    with store.run_scope(kind="web", strategy="oracle") as run_id:
        outcomes = host.run(run_suite(
            tasks, list(SEEDS), make_agent_factory("oracle"), host.browser,
            store, run_id, parallel=3, strategy="oracle",
            env_config=EnvConfig(boxes=True)), timeout=1200)
    failed = [(o.task, o.seed, o.reward, o.error) for o in outcomes if o.reward != 1.0]
    assert not failed
    with Session(store.engine) as s:
        eps = s.exec(select(Episode).where(Episode.run_id == run_id)).all()
        assert len(eps) == len(ORACLES) * len(SEEDS)
        assert all(e.success and e.reward == 1.0 and e.status == "completed" for e in eps)
        assert {(e.task_id, e.seed) for e in eps} == {(t, s) for t in ORACLES for s in SEEDS}
        steps = s.exec(select(Step)).all()
        assert len(steps) >= len(eps) and all(st.error == "" for st in steps)
        assert sum(st.terminated for st in steps) == len(eps)
