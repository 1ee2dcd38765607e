"""A sample bank on disk: one JSON Lines file, a header line then one record per finished unit.

A bank holds, per problem of a dataset slice, what `worldplan bank build` generated once so
that `worldplan bank eval` can evaluate every strategy at every budget from it (generate
once, evaluate many). Line 1 is the header {"format": FORMAT, "version": VERSION, "model",
"dataset", "config", "created", "git_commit", "runs"}; every other line is one unit
{"uid", "unit", "index", "reference", "level", "subject", ...payload} (agent.banks.units
says what each unit holds). Units are appended as they finish, each line written whole and
flushed to disk with fsync, so a killed build leaves every finished unit readable.

Reading never loses anything: a line that is not JSON (a build killed mid-line, a corrupt
byte) or not an object with "uid" and "unit" is reported in `Bank.problems_found` with its
line number and kept in the file; a later unit with the same (uid, unit) replaces an
earlier one. Appending to a file whose last line is partial first ends that line, so the
partial line stays (reported) and new lines stay whole.

`merge_banks` joins shards of one build (`--shard i/n`); a bank of another model, dataset
or build configuration is refused with `BankError` naming both values.
Not handled: compression (the files are committed as they are; text is a minority of them),
concurrent writers to one file (each shard writes its own).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "worldplan-bank"
VERSION = 1
MATCHED = ("model", "dataset")  # header fields two banks must share to merge


class BankError(ValueError):
    """A bank file that is missing, not a bank, of another version, or does not match."""


@dataclass
class Bank:
    """A bank read back: its header, its units keyed by (uid, unit), and what was wrong."""

    path: Path | None
    header: dict[str, Any]
    units: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    problems_found: list[str] = field(default_factory=list)  # "line 12: not JSON (...)"

    @property
    def model(self) -> str:
        return str(self.header.get("model", ""))

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.header.get("config") or {})

    def uids(self) -> list[str]:
        """Problems in dataset order (by the index the build recorded)."""
        first: dict[str, int] = {}
        for (uid, _), rec in self.units.items():
            first.setdefault(uid, int(rec.get("index", 0)))
        return sorted(first, key=lambda u: (first[u], u))

    def unit(self, uid: str, name: str) -> dict[str, Any] | None:
        return self.units.get((uid, name))

    def of_problem(self, uid: str) -> dict[str, dict[str, Any]]:
        return {name: rec for (u, name), rec in self.units.items() if u == uid}


def pool_banks(a: Bank, b: Bank, prefix: str = "heldout:") -> Bank:
    """Both banks as one, in memory (for cross-validation over all their problems): `b`'s
    problems get `prefix` before their uid, so the two never share a problem."""
    units = {**a.units, **{(f"{prefix}{u}", n): {**r, "uid": f"{prefix}{u}"}
                           for (u, n), r in b.units.items()}}
    header = {**a.header, "dataset": f"{a.header.get('dataset')}+{b.header.get('dataset')}"}
    return Bank(None, header, units, a.problems_found + b.problems_found)


def new_header(*, model: str, dataset: str, config: Mapping[str, Any],
               **extra: Any) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "model": model, "dataset": dataset,
            "config": dict(config), **extra}


def check_header(header: Any, where: str) -> dict[str, Any]:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        got = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise BankError(f"{where}: not a worldplan bank (first line has format {got!r}, "
                        f"expected {FORMAT!r})")
    if header.get("version") != VERSION:
        raise BankError(f"{where}: bank version {header.get('version')!r}; this worldplan "
                        f"reads version {VERSION}")
    return header


def read_bank(path: str | Path) -> Bank:
    """Read a bank; corrupt lines are reported in `problems_found`, never dropped silently."""
    path = Path(path)
    if not path.exists():
        raise BankError(f"no bank file at {path}")
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    try:
        header = json.loads(lines[0])
    except ValueError as e:
        raise BankError(f"{path}: line 1 is not a bank header ({e})") from e
    bank = Bank(path, check_header(header, str(path)))
    for no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            end = "" if no < len(lines) else " (the file ends mid-line: a build killed mid-write?)"
            bank.problems_found.append(f"line {no}: not JSON ({e}){end}")
            continue
        if not (isinstance(rec, dict) and isinstance(rec.get("uid"), str)
                and isinstance(rec.get("unit"), str)):
            bank.problems_found.append(f"line {no}: not a unit (an object with uid and unit)")
            continue
        bank.units[(rec["uid"], rec["unit"])] = rec
    return bank


class BankWriter:
    """Appends units to a bank file, one whole line each, flushed and fsynced."""

    def __init__(self, path: str | Path, header: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._write([dict(header)])
        else:
            with open(self.path, "rb") as f:  # end a partial last line; it stays, reported
                f.seek(-1, os.SEEK_END)
                partial = f.read(1) != b"\n"
            if partial:
                with open(self.path, "ab") as f:
                    f.write(b"\n")

    def append(self, record: Mapping[str, Any]) -> None:
        if not (isinstance(record.get("uid"), str) and isinstance(record.get("unit"), str)):
            raise ValueError("a bank unit needs string fields uid and unit")
        self._write([dict(record)])

    def _write(self, records: Iterable[dict[str, Any]]) -> None:
        data = "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n"
                       for r in records)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def check_same_build(a: Mapping[str, Any], b: Mapping[str, Any], *, where: str) -> None:
    """Refuse to mix banks of different models, datasets or build settings."""
    for key in MATCHED:
        if a.get(key) != b.get(key):
            raise BankError(f"{where}: {key} {b.get(key)!r} differs from {a.get(key)!r}; "
                            "banks of different models or datasets cannot be merged")
    ca, cb = dict(a.get("config") or {}), dict(b.get("config") or {})
    for key in sorted(set(ca) | set(cb)):
        if key in ("shard", "limit", "sample", "offset", "concurrency"):
            continue  # how the slice was cut and run, not what a unit holds
        if ca.get(key) != cb.get(key):
            raise BankError(f"{where}: build setting {key} = {cb.get(key)!r} differs from "
                            f"{ca.get(key)!r}; rebuild one of them with the other's settings")


def merge_banks(paths: Iterable[str | Path], out: str | Path) -> Bank:
    """Join the banks (shards) into `out`; refuses mismatched ones before writing anything."""
    banks = [read_bank(p) for p in paths]
    if not banks:
        raise BankError("no banks to merge")
    first = banks[0]
    for b in banks[1:]:
        check_same_build(first.header, b.header, where=str(b.path))
    header = dict(first.header)
    header["config"] = {**first.config, "shard": None}
    header["merged_from"] = [str(b.path) for b in banks]
    header["runs"] = sorted({r for b in banks for r in b.header.get("runs", [])})
    out = Path(out)
    if out.exists():
        raise BankError(f"{out} exists: merge into a new file")
    writer = BankWriter(out, header)
    merged = Bank(out, header, problems_found=[f"{b.path}: {p}" for b in banks
                                               for p in b.problems_found])
    for b in banks:
        for key, rec in b.units.items():
            merged.units[key] = rec
    for rec in sorted(merged.units.values(), key=lambda r: (int(r.get("index", 0)),
                                                            r["uid"], r["unit"])):
        writer.append(rec)
    return merged
