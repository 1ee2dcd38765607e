"""Task names, suites and lazy Gymnasium registration (no browser)."""

from __future__ import annotations

import subprocess
import sys

import gymnasium

from worldplan.envs.web.oracles import ORACLES
from worldplan.envs.web.registration import env_id, register_web_envs
from worldplan.envs.web.tasks.registry import (
    DEV_SUITE,
    miniwob_html_dir,
    miniwob_task_names,
    suite_tasks,
)


def test_all_suite_is_every_page_of_the_wheel() -> None:
    html = miniwob_html_dir()
    pages = {p.stem for p in (html / "miniwob").glob("*.html")}
    names = set(suite_tasks("miniwob-all"))
    assert pages <= names and len(pages) >= 100
    assert {"flight.AA", "flight.Alaska", "flight.Alaska-auto"} <= names


def test_dev_suite() -> None:
    dev = suite_tasks("miniwob-dev")
    assert len(dev) == len(set(dev)) == 20
    assert set(dev) <= set(miniwob_task_names())
    assert {"clicking", "typing", "forms", "lists", "autocomplete", "email",
            "flights"} <= set(DEV_SUITE)
    assert len(set(ORACLES) & set(dev)) >= 10
    assert len(set(ORACLES) & set(miniwob_task_names())) == len(ORACLES)


def test_unknown_suite() -> None:
    import pytest

    with pytest.raises(KeyError, match="unknown suite"):
        suite_tasks("nope")


def test_registration_is_lazy_and_complete() -> None:
    ids = register_web_envs()
    assert "worldplan/web-v0" in ids
    for name in miniwob_task_names():
        spec = gymnasium.spec(env_id(name))
        assert spec.entry_point == "worldplan.envs.web.gym_env:WebEnv"
        assert spec.kwargs["task"] == name
    code = ("import sys, envs, gymnasium; "
            "assert 'worldplan/miniwob.click-test-v0' in gymnasium.registry; "
            "assert 'playwright' not in sys.modules, 'registration imported playwright'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
