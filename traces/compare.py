"""`worldplan compare`: two runs on the same problems, side by side, and where they differ.

Episodes are matched by (task_id, seed); a task seen several times in a run is matched in
order of occurrence. Each pair says whether the answers, the success, and the strategy
differ; the summary counts wins and losses, and the difference in tokens. Episodes present
in one run only are listed as such.

`export_table(rows, path)` writes any list of rows (these dataclasses, or dicts) to CSV, or
to Parquet through pyarrow (an optional dependency: a clear error says how to get it).
Not handled: matching by problem text when task ids differ between runs.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from worldplan.traces import query
from worldplan.traces.rows import EpisodeRow, RunRow, rows_as_dicts


@dataclass(frozen=True)
class PairRow:
    task_id: str
    seed: int | None
    occurrence: int  # 0 for the first episode of this (task, seed) in each run
    episode_a: int | None
    episode_b: int | None
    answer_a: str
    answer_b: str
    success_a: bool | None
    success_b: bool | None
    strategy_a: str
    strategy_b: str
    tokens_a: int
    tokens_b: int
    differs: str  # "" when the same; else what differs: "answer,success,strategy,missing"


@dataclass(frozen=True)
class Comparison:
    run_a: RunRow
    run_b: RunRow
    pairs: list[PairRow]
    matched: int
    only_a: int
    only_b: int
    same_answer: int
    a_wins: int  # success in A, failure in B
    b_wins: int
    tokens_a: int  # over matched pairs
    tokens_b: int

    @property
    def differing(self) -> list[PairRow]:
        return [p for p in self.pairs if p.differs]


def _keyed(eps: Sequence[EpisodeRow]) -> dict[tuple[str, int | None, int], EpisodeRow]:
    seen: dict[tuple[str, int | None], int] = defaultdict(int)
    out = {}
    for e in eps:
        k = (e.task_id, e.seed)
        out[(e.task_id, e.seed, seen[k])] = e
        seen[k] += 1
    return out


def compare_runs(engine: Engine, run_a: int, run_b: int) -> Comparison:
    """Match the episodes of two runs and say where they differ."""
    summaries = {s.id: s for s in query.runs(engine, sorted({run_a, run_b}))}
    sa, sb = summaries[run_a], summaries[run_b]
    ka, kb = _keyed(query.episodes(engine, run_a)), _keyed(query.episodes(engine, run_b))
    pairs = []
    for key in sorted(set(ka) | set(kb), key=lambda k: (k[0], k[1] if k[1] is not None
                                                         else -1, k[2])):
        a, b = ka.get(key), kb.get(key)
        diffs = []
        if a is None or b is None:
            diffs.append("missing")
        else:
            if a.answer.strip() != b.answer.strip():
                diffs.append("answer")
            if a.success != b.success:
                diffs.append("success")
            if a.strategy != b.strategy and sa.strategy == sb.strategy:  # chosen per episode
                diffs.append("strategy")
        pairs.append(PairRow(
            task_id=key[0], seed=key[1], occurrence=key[2],
            episode_a=a.id if a else None, episode_b=b.id if b else None,
            answer_a=a.answer if a else "", answer_b=b.answer if b else "",
            success_a=a.success if a else None, success_b=b.success if b else None,
            strategy_a=a.strategy if a else "", strategy_b=b.strategy if b else "",
            tokens_a=a.tokens if a else 0, tokens_b=b.tokens if b else 0,
            differs=",".join(diffs)))
    both = [p for p in pairs if p.episode_a is not None and p.episode_b is not None]
    return Comparison(
        run_a=sa, run_b=sb, pairs=pairs, matched=len(both),
        only_a=sum(1 for p in pairs if p.episode_b is None),
        only_b=sum(1 for p in pairs if p.episode_a is None),
        same_answer=sum(1 for p in both if "answer" not in p.differs),
        a_wins=sum(1 for p in both if p.success_a and p.success_b is False),
        b_wins=sum(1 for p in both if p.success_b and p.success_a is False),
        tokens_a=sum(p.tokens_a for p in both), tokens_b=sum(p.tokens_b for p in both))


def _cell(v: Any) -> Any:
    return json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v


def export_table(rows: Iterable[Any], path: Path | str) -> Path:
    """Write rows to `path`: .csv, or .parquet (needs pyarrow). Returns the path."""
    path = Path(path)
    data = [{k: _cell(v) for k, v in d.items()} for d in rows_as_dicts(rows)]
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ValueError(f"cannot export to {path.name}: use a .csv or .parquet file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        columns = list(data[0]) if data else []
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=columns)
            w.writeheader()
            w.writerows(data)
        return path
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:
        raise RuntimeError(
            "Parquet export needs pyarrow, which is not installed; install it with "
            "`pip install pyarrow` (or `pip install -e .[dev]`), or export to .csv") from e
    pq.write_table(pa.Table.from_pylist(data), path)
    return path
