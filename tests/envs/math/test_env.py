"""`worldplan/Math-v0`: the Gymnasium contract, registration, seeding, grading by step."""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import worldplan.envs  # noqa: F401 - registers worldplan/Math-v0
from worldplan.envs.math.data import MathProblem
from worldplan.envs.math.env import MathEnv
from worldplan.envs.math.grader import Grader

PROBLEMS = [MathProblem("p1", "What is 1/2 as a decimal?", "0.5", 1, "Algebra"),
            MathProblem("p2", "What is 2+3?", "5", 2, "Prealgebra"),
            MathProblem("p3", "Name the day after Monday.", "\\text{Tuesday}", None, "")]


def test_registered_env_passes_the_checker(grader: Grader) -> None:
    env = gym.make("worldplan/Math-v0", limit=20, grader=grader)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=3)
    assert obs["problem"] and 1 <= obs["level"] <= 5 and info["uid"].startswith("test/")
    env.close()


def test_seeded_reset_is_deterministic(grader: Grader) -> None:
    a = MathEnv(limit=50, grader=grader)
    b = MathEnv(limit=50, grader=grader)
    uids_a = [a.reset(seed=s)[1]["uid"] for s in range(5)]
    uids_b = [b.reset(seed=s)[1]["uid"] for s in range(5)]
    assert uids_a == uids_b and len(set(uids_a)) > 1


def test_step_grades_the_final_answer(grader: Grader) -> None:
    env = MathEnv(problems=PROBLEMS, grader=grader)
    env.reset(options={"uid": "p1"})
    _, reward, terminated, truncated, info = env.step("Half is \\boxed{\\frac12}.")
    assert (reward, terminated, truncated, info["correct"]) == (1.0, True, False, True)
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step("again")
    env.reset(options={"index": 1})
    assert env.step("I think \\boxed{6}")[1] == 0.0
    obs, _ = env.reset(options={"index": 2})
    assert obs["level"] == 0
    assert env.step("\\boxed{\\text{Tuesday}}")[1] == 1.0
    env.reset(options={"index": 1})
    _, reward, _, _, info = env.step("no idea")
    assert reward == 0.0 and info["answer"] == "no idea"


def test_bad_options_are_clear_errors(grader: Grader) -> None:
    env = MathEnv(problems=PROBLEMS, grader=grader)
    with pytest.raises(KeyError, match="no problem with uid"):
        env.reset(options={"uid": "zz"})
    with pytest.raises(IndexError):
        env.reset(options={"index": 9})
    with pytest.raises(ValueError, match="no problems"):
        MathEnv(problems=[])
