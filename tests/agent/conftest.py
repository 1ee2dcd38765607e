"""Fixtures for the agent-graph tests: a real SQLite trace store and episode helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from traces.store import TraceStore, make_engine


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(make_engine(f"sqlite:///{tmp_path / 'traces.db'}"))
