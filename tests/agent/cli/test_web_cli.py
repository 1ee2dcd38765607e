"""`worldplan web` through Typer's CliRunner, with the real browser and a SQLite trace DB."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from worldplan.agent.cli.app import app
from worldplan.agent.web.config import WebAgentConfig, check_roles
from worldplan.traces.engine import make_engine
from worldplan.traces.schema import Episode, Run, Step
from worldplan.worldmodel.web.action_ranker import ActionRanker, write_ranker

runner = CliRunner()


@pytest.mark.browser
def test_web_oracle_and_random(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    res = runner.invoke(app, ["web", "--task", "click-test", "--task", "enter-text",
                              "--agent", "oracle", "--seeds", "2", "--db", db])
    assert res.exit_code == 0, res.output
    assert "click-test" in res.output and "2/2" in res.output and "success 4/4" in res.output
    res = runner.invoke(app, ["web", "--task", "click-checkboxes", "--agent", "random",
                              "--seeds", "2", "--max-steps", "3", "--seed-start", "10",
                              "--db", db])
    assert res.exit_code == 0, res.output
    engine = make_engine(db)
    with Session(engine) as s:
        runs = s.exec(select(Run).order_by(col(Run.id))).all()
        assert [r.status for r in runs] == ["completed", "completed"]
        assert [r.strategy for r in runs] == ["oracle", "random"]
        summary = runs[0].config["summary"]
        assert {row["task"]: row["successes"] for row in summary} == {"click-test": 2,
                                                                       "enter-text": 2}
        eps = s.exec(select(Episode).where(Episode.run_id == runs[1].id)).all()
        assert sorted(e.seed or 0 for e in eps) == [10, 11]
        for e in eps:
            steps = s.exec(select(Step).where(Step.episode_id == e.id)).all()
            assert 1 <= len(steps) <= 3 and e.status == "completed"
            assert all("GOAL: Select" in st.observation for st in steps)


def test_web_oracle_skips_tasks_without_oracle_and_bad_input(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    res = runner.invoke(app, ["web", "--suite", "nope", "--db", db])
    assert res.exit_code == 1 and "unknown suite" in res.output
    res = runner.invoke(app, ["web", "--task", "no-such-task", "--db", db])
    assert res.exit_code == 1 and "unknown task" in res.output
    res = runner.invoke(app, ["web", "--task", "click-test", "--agent", "gpt", "--db", db])
    assert res.exit_code == 1 and "unknown agent" in res.output
    # click-color: no oracle (its boxes differ only by colour, which the tree does not show)
    res = runner.invoke(app, ["web", "--task", "click-color", "--agent", "oracle", "--db", db])
    assert res.exit_code == 1 and "no oracle" in res.output and "no tasks" in res.output


def test_web_refuses_a_judge_its_strategy_cannot_use_before_anything_runs(
        tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    url = ["--llm-url", "http://127.0.0.1:9"]  # never reached: the settings fail first
    res = runner.invoke(app, ["web", "--task", "click-test", "--strategy", "search",
                              "--judge", "choice", *url, "--db", db])
    assert res.exit_code == 1 and "use it with best-of-n" in res.output
    res = runner.invoke(app, ["web", "--task", "click-test", "--strategy", "best-of-n",
                              "--judge-orders", "2", *url, "--db", db])
    assert res.exit_code == 1 and "more with the choice judge" in res.output
    res = runner.invoke(app, ["web", "--task", "click-test", "--strategy", "best-of-n",
                              "--judge", "vibes", *url, "--db", db])
    assert res.exit_code == 1 and "unknown judge 'vibes'" in res.output
    with pytest.raises(ValueError, match="only the choice judge"):
        check_roles(WebAgentConfig(strategy="best-of-n", judge_targets=True))
    check_roles(WebAgentConfig(strategy="best-of-n", judge="choice", judge_targets=True,
                               judge_orders=2))
    with pytest.raises(ValueError, match="needs a ranker file"):
        check_roles(WebAgentConfig(strategy="best-of-n", judge="ranker"))
    with pytest.raises(ValueError, match="weighs the choice judge's scores"):
        check_roles(WebAgentConfig(strategy="best-of-n", judge="ranker",
                                   judge_ranker="agent/policies/web_ranker.json"))
    with pytest.raises(ValueError, match="only the choice judge"):
        check_roles(WebAgentConfig(strategy="best-of-n",
                                   judge_ranker="agent/policies/web_ranker.json"))
    with pytest.raises(ValueError, match="no ranker file"):
        check_roles(WebAgentConfig(strategy="best-of-n", judge="ranker",
                                   judge_ranker="nowhere/ranker.json"))
    with pytest.raises(ValueError, match="does not weigh the choice judge's scores"):
        check_roles(WebAgentConfig(strategy="best-of-n", judge="choice",
                                   judge_ranker="agent/policies/web_ranker_features.json"))
    with pytest.raises(ValueError, match="fitted on a choice judge asked with"):
        check_roles(WebAgentConfig(strategy="best-of-n", judge="choice", judge_orders=2,
                                   judge_ranker="agent/policies/web_ranker.json"))
    check_roles(WebAgentConfig(strategy="best-of-n", judge="choice",
                               judge_ranker="agent/policies/web_ranker.json"))
    check_roles(WebAgentConfig(strategy="best-of-n", judge="ranker",
                               judge_ranker="agent/policies/web_ranker_features.json"))
    with Session(make_engine(db)) as s:
        assert s.exec(select(Run)).all() == []  # nothing was started


def test_a_ranker_that_weighs_imagined_pages_needs_a_world_model(tmp_path: Path) -> None:
    w = {"wm_goal_quote": 1.0}
    path = tmp_path / "dream.json"
    write_ranker(ActionRanker(tuple(w), (0.0,), (1.0,), (1.0,), 0.0), path)
    with pytest.raises(ValueError, match="weighs the world model's predicted changes"):
        check_roles(WebAgentConfig(strategy="best-of-n", judge="ranker", world_model="none",
                                   judge_ranker=str(path)))
    check_roles(WebAgentConfig(strategy="best-of-n", judge="ranker", world_model="local",
                               judge_ranker=str(path)))
    fitted_on = tmp_path / "dream-peek.json"
    write_ranker(ActionRanker(tuple(w), (0.0,), (1.0,), (1.0,), 0.0,
                              {"world_model": "peek"}), fitted_on)
    with pytest.raises(ValueError, match="fitted on the 'peek' world model"):
        check_roles(WebAgentConfig(strategy="best-of-n", judge="ranker", world_model="local",
                                   judge_ranker=str(fitted_on)))
