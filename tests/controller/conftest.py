"""Fixtures of the controller tests: one grader worker for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from envs.math.grader import Grader


@pytest.fixture(scope="session")
def grader() -> Iterator[Grader]:
    with Grader(timeout_s=30) as g:
        yield g
