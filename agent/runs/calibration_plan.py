"""What a calibration run has done so far: episodes to keep, to continue, to replay; and
its results read back from the trace database.

A calibration run (agent.runs.calibration) has, per problem, one probe episode and one
episode per grid cell (budget, configuration): `CellKey` names them. `read_calibration(store,
run_id)` gives the latest episode of each cell and whether it completed. A resumed run
keeps the completed ones, continues the others under their episode ids (their stored calls
are answered from the trace: traces.resume), and, for a problem whose probe completed but
whose grid did not, replays the probe from its stored calls (its samples feed the grid
episodes; nothing is asked or stored again). `calibration_results` reads the pass rates and
the accuracy per configuration and budget from the completed episodes, so that a resumed
run reports the whole run, not only what its last process did.
Not handled: running the episodes (agent.runs.calibration), fitting (agent.control.fitting).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from worldplan.traces.schema import Episode, Run
from worldplan.traces.store import TraceStore

CellKey = tuple[str, str, int | None, str]  # (problem uid, phase, budget, configuration)


def probe_key(uid: str) -> CellKey:
    return (uid, "probe", None, "")


def grid_key(uid: str, budget: int, config: str) -> CellKey:
    return (uid, "grid", budget, config)


def cell_of(e: Episode) -> CellKey:
    info = e.info or {}
    if info.get("phase") == "probe":
        return probe_key(e.task_id)
    return grid_key(e.task_id, int(info.get("budget") or 0), str(info.get("config", "")))


@dataclass(frozen=True)
class CalibrationState:
    """The latest episode of each cell: (episode id, completed, reward)."""

    cells: dict[CellKey, tuple[int, bool, float]]

    def completed(self, key: CellKey) -> bool:
        return key in self.cells and self.cells[key][1]

    def to_continue(self, key: CellKey) -> int | None:
        """The unfinished episode of this cell (None: none, or completed)."""
        found = self.cells.get(key)
        return found[0] if found is not None and not found[1] else None

    def replay_ids(self, wanted: Iterable[CellKey]) -> list[int]:
        """Episodes whose stored calls a resumed run needs: the unfinished ones, and the
        completed probes of problems with cells still to run."""
        todo = [k for k in wanted if not self.completed(k)]
        probes = {probe_key(k[0]) for k in todo}
        return sorted({self.cells[k][0] for k in [*todo, *probes] if k in self.cells})


def read_calibration(store: TraceStore, run_id: int) -> CalibrationState:
    with Session(store.engine) as s:
        eps = list(s.exec(select(Episode).where(Episode.run_id == run_id)
                          .order_by(Episode.id)))  # type: ignore[arg-type]
    cells: dict[CellKey, tuple[int, bool, float]] = {}
    for e in eps:
        assert e.id is not None
        key = cell_of(e)
        if not (key in cells and cells[key][1]):  # a completed episode is never replaced
            cells[key] = (e.id, e.status == "completed", float(e.reward or 0.0))
    return CalibrationState(cells)


def load_calibration_config(store: TraceStore, run_id: int) -> dict[str, Any]:
    """The stored settings of calibration run `run_id` (a clear error for another run)."""
    with Session(store.engine) as s:
        run = s.get(Run, run_id)
    if run is None:
        raise KeyError(f"no run {run_id} in {store.engine.url}")
    if run.kind != "calibrate":
        raise ValueError(f"run {run_id} is a {run.kind!r} run, not a calibration run")
    return dict(run.config or {})


@dataclass(frozen=True)
class CalibrationResults:
    episodes: int  # completed episodes
    pass_rates: dict[str, float]  # problem uid -> pass@1 of its probe episode
    outcomes: dict[tuple[str, int], list[bool]]  # (configuration, budget) -> successes


def calibration_results(store: TraceStore, run_id: int) -> CalibrationResults:
    with Session(store.engine) as s:
        eps = list(s.exec(select(Episode).where(Episode.run_id == run_id,
                                                Episode.status == "completed")
                          .order_by(Episode.id)))  # type: ignore[arg-type]
    latest = {cell_of(e): e for e in eps}
    outcomes: dict[tuple[str, int], list[bool]] = {}
    for (_, phase, budget, config), e in latest.items():
        if phase == "grid" and budget is not None:
            outcomes.setdefault((config, budget), []).append(bool(e.success))
    return CalibrationResults(
        len(latest), {k[0]: float(e.reward or 0.0) for k, e in latest.items()
                      if k[1] == "probe"}, outcomes)
