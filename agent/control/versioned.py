"""Versioned JSON files: a format name and a version written into the file, checked on read,
and errors that name the file and say what is wrong.

A file is one JSON object {"format": NAME, "version": N, ...body}, written indented with a
final newline (its folder created if need be). Reading refuses a missing file, a file that is
not JSON, another format and another version, each with the format's own error class; the
message starts with the path (or the `where` the caller gives for an embedded object).
Not handled: validating the body (each file kind does its own), migrating an older version
(it is refused, with the format's hint on what to do).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class VersionedFormat:
    """One kind of versioned file, and the words its error messages use."""

    name: str  # the "format" field, e.g. "worldplan-policy"
    version: int  # the one version this code reads and writes
    noun: str  # "policy": "no policy file at PATH", "policy version 2"
    title: str  # "worldplan policy": "PATH: not a worldplan policy (format ...)"
    error: type[Exception]  # raised for every problem with such a file
    hint: str = ""  # appended to the wrong-version message: how to get a current file


def stamped(fmt: VersionedFormat, body: Mapping[str, Any],
            version: int | None = None) -> dict[str, Any]:
    """`body` behind the format name and version (the format's own unless given)."""
    return {"format": fmt.name, "version": fmt.version if version is None else version,
            **body}


def write_versioned(path: str | Path, fmt: VersionedFormat, body: Mapping[str, Any], *,
                    version: int | None = None) -> Path:
    """Write `body` stamped with the format as indented JSON; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stamped(fmt, body, version), indent=2) + "\n", encoding="utf-8")
    return path


def check_versioned(data: Any, fmt: VersionedFormat, *, where: str) -> dict[str, Any]:
    """`data` if it is a JSON object of this format and version; else `fmt.error`."""
    if not isinstance(data, dict):
        raise fmt.error(f"{where}: expected a JSON object, got {type(data).__name__}")
    if data.get("format") != fmt.name:
        raise fmt.error(f"{where}: not a {fmt.title} (format {data.get('format')!r}, "
                        f"expected {fmt.name!r})")
    if data.get("version") != fmt.version:
        raise fmt.error(f"{where}: {fmt.noun} version {data.get('version')!r}; this worldplan "
                        f"reads version {fmt.version}. {fmt.hint}".rstrip())
    return data


def read_versioned(path: str | Path, fmt: VersionedFormat) -> dict[str, Any]:
    """The checked JSON object of the file at `path`; `fmt.error` naming the file if not."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise fmt.error(f"no {fmt.noun} file at {path}") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise fmt.error(f"{path}: not a readable JSON file ({e})") from e
    except RecursionError as e:  # JSON nested deeper than Python recurses
        raise fmt.error(f"{path}: not a readable JSON file (nested too deep)") from e
    return check_versioned(data, fmt, where=str(path))
