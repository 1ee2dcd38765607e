"""The bank file: whole lines, corrupt or truncated lines reported and kept, shards merged,
banks of other models or datasets refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from worldplan.agent.banks.bank_file import (
    BankError,
    BankWriter,
    merge_banks,
    new_header,
    read_bank,
)


def header(model: str = "m", dataset: str = "d", **config: object) -> dict[str, object]:
    return new_header(model=model, dataset=dataset, config={"k": 4, **config})


def unit(uid: str, name: str, index: int = 0, **extra: object) -> dict[str, object]:
    return {"uid": uid, "unit": name, "index": index, **extra}


def test_units_round_trip_and_a_later_unit_replaces_an_earlier(tmp_path: Path) -> None:
    w = BankWriter(tmp_path / "b.jsonl", header())
    w.append(unit("p1", "samples", 1, x=1))
    w.append(unit("p0", "samples", 0, x=2))
    w.append(unit("p1", "samples", 1, x=3))
    bank = read_bank(tmp_path / "b.jsonl")
    assert bank.model == "m" and bank.config == {"k": 4}
    assert bank.uids() == ["p0", "p1"]
    assert bank.unit("p1", "samples")["x"] == 3
    assert bank.problems_found == []


def test_a_truncated_last_line_is_reported_kept_and_later_units_stay_whole(
        tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    w = BankWriter(path, header())
    w.append(unit("p0", "samples"))
    with open(path, "a") as f:  # a build killed mid-write
        f.write('{"uid": "p1", "unit": "sam')
    bank = read_bank(path)
    assert list(bank.units) == [("p0", "samples")]
    assert len(bank.problems_found) == 1 and "ends mid-line" in bank.problems_found[0]
    BankWriter(path, header()).append(unit("p1", "samples", 1))
    again = read_bank(path)
    assert set(again.units) == {("p0", "samples"), ("p1", "samples")}
    assert len(again.problems_found) == 1 and "line 3" in again.problems_found[0]
    assert '{"uid": "p1", "unit": "sam' in path.read_text()  # nothing lost


def test_corrupt_lines_are_reported_with_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    BankWriter(path, header()).append(unit("p0", "samples"))
    with open(path, "a") as f:
        f.write("\x00garbage\n[1, 2]\n")
    BankWriter(path, header()).append(unit("p1", "samples"))
    bank = read_bank(path)
    assert len(bank.units) == 2
    assert [p.split(":")[0] for p in bank.problems_found] == ["line 3", "line 4"]


@pytest.mark.parametrize("text, why", [
    ("", "not a bank header"), ('{"format": "other"}\n', "not a worldplan bank"),
    ('{"format": "worldplan-bank", "version": 99}\n', "version 99")])
def test_a_file_that_is_not_a_bank_is_refused(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text(text)
    with pytest.raises(BankError, match=why):
        read_bank(path)
    with pytest.raises(BankError, match="no bank file"):
        read_bank(tmp_path / "missing.jsonl")


def test_shards_merge_into_one_bank(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    BankWriter(a, header(shard=[0, 2])).append(unit("p0", "samples", 0))
    BankWriter(b, header(shard=[1, 2])).append(unit("p1", "samples", 1))
    merged = merge_banks([a, b], tmp_path / "m.jsonl")
    again = read_bank(tmp_path / "m.jsonl")
    assert again.uids() == merged.uids() == ["p0", "p1"]
    assert again.header["merged_from"] == [str(a), str(b)]


@pytest.mark.parametrize("other, word", [
    (header(model="other"), "model"), (header(dataset="other"), "dataset"),
    (header(k=8), "build setting k")])
def test_banks_of_another_model_dataset_or_build_are_refused(
        tmp_path: Path, other: dict[str, object], word: str) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    BankWriter(a, header()).append(unit("p0", "samples"))
    BankWriter(b, other).append(unit("p1", "samples"))
    with pytest.raises(BankError, match=word):
        merge_banks([a, b], tmp_path / "m.jsonl")
    assert not (tmp_path / "m.jsonl").exists()


def test_lines_are_compact_json(tmp_path: Path) -> None:
    w = BankWriter(tmp_path / "b.jsonl", header())
    w.append(unit("p0", "samples", text="é"))
    line = (tmp_path / "b.jsonl").read_text(encoding="utf-8").splitlines()[1]
    assert json.loads(line)["text"] == "é" and ": " not in line
