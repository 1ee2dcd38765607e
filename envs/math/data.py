"""Loading math problems: MATH JSONL, any JSONL with a field mapping, or a Hugging Face name.

Sources accepted by `load_problems(source, ...)`:
- an alias: "math500" (MATH-500 test set) and "math-train", files under the shared data dir
  ($WORLDPLAN_DATA/math, default ../shared/data/math relative to the repository);
- a path to a JSONL file, read with a `FieldMap` (MATH's fields by default; `GSM8K` maps
  `question` / `answer` and takes the answer after `####`);
- a Hugging Face dataset name ("HuggingFaceH4/MATH-500"), read with `datasets` when it is
  installed (`DatasetUnavailable` otherwise, saying how to install it).

A level is optional: a row without one (absent, null, "" or MATH's "Level ?") loads with
`level=None`, so a file of problems and answers needs no field map; a level that is there but
not 1-5 ("hard") is a bad row. Bad rows (not UTF-8, not JSON, not an object, empty problem or
answer, an invalid level) are skipped with one `warnings.warn` per file listing them; nothing
else is lost. A source that yields no problem at all (a missing, unreadable or empty file, a
directory, a file of which no row is usable, an offset past its end) is a
`DatasetUnavailable` whose one-line message names the file and says what to do.
Not handled: other formats (CSV, parquet files, a JSON array), streaming very large datasets.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worldplan.envs.math.answer import extract_boxed, gsm8k_answer

REPO = Path(__file__).resolve().parents[2]


class DatasetUnavailable(RuntimeError):
    """The dataset cannot be loaded here: no such file or name, a file that cannot be read or
    holds no usable problem, an offset past its end, or `datasets` not installed."""


@dataclass(frozen=True)
class MathProblem:
    uid: str  # unique id (MATH's unique_id, else "<source>:<row>")
    problem: str
    answer: str  # the reference final answer
    level: int | None = None  # MATH difficulty 1-5; None when the dataset has none
    subject: str = ""
    solution: str = ""  # the reference solution, when the dataset has one


@dataclass(frozen=True)
class FieldMap:
    """Where a JSONL row keeps each field. `answer_delimiter` takes the text after it."""

    problem: str = "problem"
    answer: str | None = "answer"
    solution: str | None = "solution"  # also the source of the answer if `answer` is absent
    level: str | None = "level"
    subject: str | None = "subject"
    uid: str | None = "unique_id"
    answer_delimiter: str | None = None
    require_level: bool = False  # True: a row without a level is a bad row


MATH = FieldMap()
GSM8K = FieldMap(problem="question", answer="answer", solution="answer", level=None,
                 subject=None, uid=None, answer_delimiter="####")
FIELD_MAPS: dict[str, FieldMap] = {"math": MATH, "gsm8k": GSM8K}


def data_dir() -> Path:
    return Path(os.environ.get("WORLDPLAN_DATA", REPO.parent / "shared" / "data"))


ALIASES = {"math500": "math/test500.jsonl", "math-500": "math/test500.jsonl",
           "math-train": "math/train.jsonl"}


def parse_field_map(spec: str | None) -> FieldMap:
    """A preset name ("math", "gsm8k") or "problem=question,answer=answer,delimiter=####"."""
    if not spec:
        return MATH
    if spec in FIELD_MAPS:
        return FIELD_MAPS[spec]
    kv: dict[str, Any] = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in {"problem", "answer", "solution", "level", "subject", "uid",
                                  "delimiter"}:
            raise ValueError(f"bad field mapping {part!r} in {spec!r}: use a preset "
                             f"({', '.join(FIELD_MAPS)}) or key=column pairs")
        kv["answer_delimiter" if key == "delimiter" else key] = value.strip() or None
    if "level" not in kv:
        kv["level"] = None
    return FieldMap(**kv)


def load_problems(source: str, *, fields: FieldMap | None = None, split: str = "test",
                  offset: int = 0, limit: int | None = None) -> list[MathProblem]:
    """Load problems[offset : offset + limit] from an alias, a JSONL path or a HF name."""
    fields = fields or MATH
    if source in ALIASES:
        path = data_dir() / ALIASES[source]
        if not path.exists():
            raise DatasetUnavailable(f"{source}: {path} not found; set WORLDPLAN_DATA to the "
                                     "folder holding math/test500.jsonl")
        problems = _from_rows(_jsonl_rows(path), fields, source=source, origin=str(path))
    elif Path(source).suffix in (".jsonl", ".json") or Path(source).exists():
        path = Path(source)
        if not path.exists():
            raise DatasetUnavailable(f"no dataset file at {path}: check the path (or use "
                                     f"one of {sorted(ALIASES)})")
        problems = _from_rows(_jsonl_rows(path), fields, source=path.stem, origin=str(path))
    elif re.fullmatch(r"[\w.-]+/[\w.-]+", source):
        problems = _from_rows(_hf_rows(source, split), fields, source=source, origin=source)
    else:
        raise DatasetUnavailable(f"unknown dataset {source!r}: use one of {sorted(ALIASES)}, "
                                 "a .jsonl path, or a Hugging Face name such as "
                                 "HuggingFaceH4/MATH-500")
    if offset >= len(problems) > 0:
        raise DatasetUnavailable(f"{source} has {len(problems)} problems: offset {offset} is "
                                 "past its end")
    end = None if limit is None else offset + limit
    return problems[offset:end]


def _jsonl_rows(path: Path) -> Iterable[tuple[int, Any]]:
    """(line number, JSON value or the ValueError saying why the line is not one)."""
    if path.is_dir():
        raise DatasetUnavailable(f"{path} is a directory: give the JSONL file inside it")
    try:
        f = path.open("rb")
    except OSError as e:
        raise DatasetUnavailable(f"cannot read {path} ({e.strerror or e}): check that the file "
                                 "exists and that you may read it") from e
    with f:
        for i, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield i, ValueError("not UTF-8 text")
                continue
            if not line.strip():
                continue
            try:
                yield i, json.loads(line)
            except (ValueError, RecursionError) as e:  # also a too long number, deep nesting
                yield i, ValueError(f"not JSON ({getattr(e, 'msg', type(e).__name__)})")


def _hf_rows(name: str, split: str) -> Iterable[tuple[int, Any]]:
    try:
        import datasets  # type: ignore[import-not-found]
    except ImportError as e:
        raise DatasetUnavailable(
            f"{name} is a Hugging Face dataset, and the `datasets` package is not installed: "
            "`pip install datasets` (and internet access), or download it to JSONL") from e
    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as e:  # the hub, the network, the cache: any failure means "not here"
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DatasetUnavailable(f"cannot load the Hugging Face dataset {name} ({first}): "
                                 "check the name and the network, or download it to JSONL") from e
    for i, row in enumerate(ds, start=1):
        yield i, dict(row)


def _from_rows(rows: Iterable[tuple[int, Any]], fm: FieldMap, *, source: str,
               origin: str) -> list[MathProblem]:
    out: list[MathProblem] = []
    bad: list[str] = []
    for i, row in rows:
        try:
            out.append(_problem(row, fm, default_uid=f"{source}:{i}"))
        except ValueError as e:
            bad.append(f"row {i}: {e}")
    if not out:
        why = f"{len(bad)} row(s), none usable ({bad[0]})" if bad else "no rows"
        raise DatasetUnavailable(f"{origin} holds no problems: {why}; a dataset is JSON lines, "
                                 "one object per line with a problem and an answer (other "
                                 "field names: --fields)")
    if bad:
        shown = "; ".join(bad[:10]) + (f"; ... ({len(bad) - 10} more)" if len(bad) > 10 else "")
        warnings.warn(f"{origin}: skipped {len(bad)} bad row(s): {shown}", stacklevel=3)
    return out


def _problem(row: Any, fm: FieldMap, *, default_uid: str) -> MathProblem:
    if isinstance(row, Exception):
        raise ValueError(str(row))
    if not isinstance(row, Mapping):
        raise ValueError(f"a row must be a JSON object, got {type(row).__name__}")
    problem = _text(row, fm.problem)
    if not problem:
        raise ValueError(f"empty or missing {fm.problem!r}")
    solution = _text(row, fm.solution) if fm.solution else ""
    answer = _text(row, fm.answer) if fm.answer else ""
    if fm.answer_delimiter:
        answer = gsm8k_answer(answer or solution, fm.answer_delimiter) or ""
    elif not answer and solution:
        answer = extract_boxed(solution) or ""
    if not answer:
        raise ValueError("empty or missing answer")
    raw_level = row.get(fm.level) if fm.level else None
    level = _level(raw_level)
    if level is None and not _no_level(raw_level):
        raise ValueError(f"invalid level {raw_level!r} (1-5, 'Level 3', or none)")
    if fm.require_level and level is None:
        raise ValueError(f"missing level in {fm.level!r}")
    uid = _text(row, fm.uid) if fm.uid else ""
    subject = _text(row, fm.subject) if fm.subject else ""
    return MathProblem(uid or default_uid, problem, answer, level, subject, solution)


def _text(row: Mapping[str, Any], key: str | None) -> str:
    value = row.get(key) if key else None
    return "" if value is None else str(value).strip()


def _no_level(value: Any) -> bool:
    """Whether a level field says "no level": absent, null, empty, or MATH's "Level ?"."""
    return value is None or (isinstance(value, str)
                             and value.strip() in ("", "?", "Level ?", "Level?"))


def _level(value: Any) -> int | None:
    """MATH levels are 1-5, written 3 or "Level 3"; anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1 <= value <= 5 else None
    m = re.fullmatch(r"(?:Level\s*)?([1-5])", str(value or "").strip())
    return int(m.group(1)) if m else None

