"""`rerun --from-cache` against a run made with the real model server."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tests.conftest import TOY_RERUNNERS as REGISTRY
from tests.conftest import LLMServer
from worldplan.agent.cli.app import app
from worldplan.agent.runs import rerun as rerun_mod
from worldplan.agent.runs.rerun import rerun_from_cache
from worldplan.traces import query
from worldplan.traces.engine import make_engine
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient

pytestmark = pytest.mark.server


def test_rerun_from_cache_reaches_the_same_decisions(real_run: tuple[Path, int]) -> None:
    path, run_id = real_run
    engine = make_engine(str(path), create=False)
    res = rerun_from_cache(engine, run_id, REGISTRY)
    assert res.identical, res.differences
    assert res.calls_unused == 0 and res.cache_misses == []
    a = query.episodes(engine, run_id)
    b = query.episodes(engine, res.new_run)
    assert [(e.answer, e.success, e.difficulty, e.prompt_tokens, e.completion_tokens, e.flops)
            for e in a] == [(e.answer, e.success, e.difficulty, e.prompt_tokens,
                             e.completion_tokens, e.flops) for e in b]
    da = query.episode_detail(engine, a[0].id)
    db = query.episode_detail(engine, b[0].id)
    assert da.steps[0].decision == db.steps[0].decision  # the decisions themselves
    assert len(da.nodes) == 3 and [n.score for n in da.nodes] == [n.score for n in db.nodes]
    assert res.calls_served == query.runs(engine, [run_id])[0].llm_calls == 8  # 2 x (1 + 3)


def test_rerun_detects_a_changed_response(real_run: tuple[Path, int], tmp_path: Path) -> None:
    """The comparison can fail: alter one stored completion, and the rerun differs."""
    src, run_id = real_run
    path = tmp_path / "altered.db"
    path.write_bytes(src.read_bytes())
    for suffix in ("-wal", "-shm"):
        if Path(str(src) + suffix).exists():
            Path(str(path) + suffix).write_bytes(Path(str(src) + suffix).read_bytes())
    engine = make_engine(str(path), create=False)
    with engine.begin() as c:
        cid = c.execute(text("SELECT id FROM llmcall WHERE run_id = :r AND role = 'proposer' "
                             "ORDER BY id LIMIT 1"), {"r": run_id}).scalar_one()
        c.execute(text("""UPDATE llmcall SET completions = '["999","999","999"]'
                          WHERE id = :i"""), {"i": cid})
    res = rerun_from_cache(engine, run_id, REGISTRY)
    assert not res.identical
    assert res.cache_misses and "Proposed answer: 999" in res.cache_misses[0]
    assert any("cache miss" in d for d in res.differences), res.differences


def test_rerun_cli(real_run: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> None:
    path, run_id = real_run
    monkeypatch.setitem(rerun_mod.DEFAULT_RERUNNERS, "toy", REGISTRY["toy"])
    r = CliRunner().invoke(app, ["rerun", str(run_id), "--from-cache", "--db", str(path)])
    assert r.exit_code == 0, r.output
    assert "identical" in r.output
    r = CliRunner().invoke(app, ["rerun", str(run_id), "--db", str(path)])
    assert r.exit_code == 2 and "--from-cache" in r.output


@pytest.mark.slow
def test_math_run_reruns_identically_from_cache(llm_server: LLMServer, math500_path: Path,
                                                tmp_path: Path) -> None:
    """The `math` kind's hook: `worldplan math` with real calls, then rerun from the cache."""
    from worldplan.agent.runs.math import MathRunConfig, run_math
    from worldplan.envs.math.grader import Grader
    from worldplan.worldmodel.math.verifier import GenerativeVerifier

    engine = make_engine(str(tmp_path / "math.db"))
    client = LLMClient(llm_server.url, llm_server.model, n_params=llm_server.n_params)
    config = MathRunConfig(dataset=str(math500_path), limit=1, strategy="best_of_n",
                           params={"n": 2}, budget_generations=4, max_tokens=32,
                           temperature=0.8)
    with Grader() as grader:
        original = run_math(config, client=client, verifier=GenerativeVerifier(client),
                            store=TraceStore(engine), grader=grader)
    res = rerun_from_cache(engine, original.run_id)  # the default registry: kind "math"
    assert res.identical, res.differences
    assert res.calls_served == query.runs(engine, [original.run_id])[0].llm_calls > 0
    assert res.new_run is not None
    a, b = query.episodes(engine, original.run_id), query.episodes(engine, res.new_run)
    assert [(e.answer, e.success, e.completion_tokens) for e in a] == [
        (e.answer, e.success, e.completion_tokens) for e in b]
