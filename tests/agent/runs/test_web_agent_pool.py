"""benchmarks/web_agent_pool.py: slices pool into one paired comparison whose every interval
is at the 90% the web benchmark states (not the library's 95% default), the point lift is
success over reactive's less one, and an episode repeated across slices is refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from benchmarks import web_agent_pool


def slice_file(path: Path, tasks: list[str], arm_wins: list[bool], base_wins: list[bool]
               ) -> Path:
    def row(arm: str, wins: list[bool]) -> dict[str, object]:
        return {"arm": arm, "budget": 4000, "episodes_detail": [
            {"task": t, "seed": 0, "success": w} for t, w in zip(tasks, wins, strict=True)]}
    path.write_text(json.dumps({"model": "m", "rows": [row("reactive", base_wins),
                                                        row("ranker-expand", arm_wins)]}))
    return path


def pool(monkeypatch: pytest.MonkeyPatch, out: Path, *files: Path) -> dict[str, object]:
    monkeypatch.setattr(sys, "argv", ["web_agent_pool.py", *map(str, files), "--out", str(out)])
    web_agent_pool.main()
    return dict(json.loads(out.read_text()))


def test_pooled_intervals_are_at_ninety_percent(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    a = slice_file(tmp_path / "a.json", ["t1", "t2", "t3", "t4"], [True, True, True, False],
                   [True, False, False, False])
    b = slice_file(tmp_path / "b.json", ["t5", "t6"], [True, False], [True, False])
    got = pool(monkeypatch, tmp_path / "pool.json", a, b)
    assert got["confidence"] == 0.90
    arm = got["pooled"]["ranker-expand"]  # type: ignore[index]
    assert arm["episodes"] == 6
    assert arm["relative_lift"]["point"] == pytest.approx((4 / 6) / (2 / 6) - 1)
    for key in ("success", "difference", "relative_lift"):
        assert arm[key]["confidence"] == 0.90


def test_an_episode_in_two_slices_is_refused(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    a = slice_file(tmp_path / "a.json", ["t1"], [True], [False])
    b = slice_file(tmp_path / "b.json", ["t1"], [True], [False])
    with pytest.raises(SystemExit, match="earlier file"):
        pool(monkeypatch, tmp_path / "pool.json", a, b)
